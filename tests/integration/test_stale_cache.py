"""Answers decided on a cached aggregate another process has moved past.

Each process caches aggregates, and a stale copy is harmless when the command appends: the
append conflicts and the command re-runs. A command that refuses, or finds nothing to change,
appends nothing, so nothing conflicts: these tests give one registry ("ours") a cached copy,
change the same aggregates through a second registry over the same store (another process,
as far as the cache can tell), and check that ours answers from the log, not from its cache.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from uuid import UUID

import pytest
from sqlalchemy import select

from modelplane import config
from modelplane.domain.errors import PreconditionFailedError
from modelplane.projections.projected_registry import ProjectedRegistry, open_registry
from modelplane.projections.tables import versions


@dataclass
class Pair:
    ours: ProjectedRegistry
    theirs: ProjectedRegistry


@pytest.fixture
def pair(store: str) -> Iterator[Pair]:
    url = config.store_url()
    ours, theirs = open_registry(url), open_registry(url)
    yield Pair(ours, theirs)
    for registry in (ours, theirs):
        registry.close()
        registry.engine.dispose()


def _model_with_versions(registry: ProjectedRegistry, count: int) -> tuple[UUID, list[UUID]]:
    model = registry.register_model("m", fields={}, tags=["keep"], actor="ours").id
    versions = [registry.create_version(model, actor="ours").id for _ in range(count)]
    return model, versions


def _head(registry: ProjectedRegistry) -> int:
    with registry.engine.connect() as conn:
        return registry.event_log.head(conn)


def _stage(registry: ProjectedRegistry, version: UUID) -> str | None:
    with registry.engine.connect() as conn:
        stage: str | None = conn.execute(
            select(versions.c.stage).where(versions.c.id == str(version))
        ).scalar_one()
    return stage


def test_a_stage_emptied_elsewhere_is_not_refused_as_occupied(pair: Pair) -> None:
    _, (v1, v2) = _model_with_versions(pair.ours, 2)
    pair.ours.change_stage(v1, "staging", actor="ours")  # ours caches v1 holding staging
    pair.theirs.change_stage(v1, "archived", actor="theirs")

    pair.ours.change_stage(v2, "staging", actor="ours")  # no force: the stage is empty now

    assert _stage(pair.ours, v2) == "staging"
    assert _stage(pair.ours, v1) == "archived"


def test_an_expected_holder_is_checked_against_the_log(pair: Pair) -> None:
    _, (v1, v2, v3) = _model_with_versions(pair.ours, 3)
    pair.ours.change_stage(v1, "production", actor="ours")
    pair.theirs.change_stage(v2, "production", force=True, actor="theirs")

    # the caller saw v2 take production (as the log says); ours has v1 cached as the holder
    pair.ours.change_stage(v3, "production", force=True, expected_holder=str(v2), actor="ours")
    assert _stage(pair.ours, v3) == "production"

    # and the reverse: a caller expecting the holder of ours' stale copy is refused
    pair.theirs.change_stage(v1, "production", force=True, actor="theirs")
    head = _head(pair.ours)
    with pytest.raises(PreconditionFailedError):
        pair.ours.change_stage(v2, "production", force=True, expected_holder=str(v3), actor="x")
    assert _head(pair.ours) == head


def test_a_tag_removed_elsewhere_is_added_again(pair: Pair) -> None:
    model, _ = _model_with_versions(pair.ours, 0)
    pair.theirs.update_model(model, remove_tags=["keep"], actor="theirs")
    head = _head(pair.ours)

    tagged = pair.ours.update_model(model, add_tags=["keep"], actor="ours")  # cached: has it

    assert tagged is not None and tagged > head
    assert "keep" in pair.ours.live_model(model).tags


def test_a_stage_left_elsewhere_is_entered_again(pair: Pair) -> None:
    _, (v1,) = _model_with_versions(pair.ours, 1)
    pair.ours.change_stage(v1, "staging", actor="ours")
    pair.theirs.change_stage(v1, "archived", actor="theirs")
    head = _head(pair.ours)

    promoted = pair.ours.change_stage(v1, "staging", actor="ours")  # cached: already there

    assert promoted is not None and promoted > head
    assert _stage(pair.ours, v1) == "staging"


def test_a_true_no_op_appends_nothing_and_costs_no_rerun(pair: Pair) -> None:
    model, (v1,) = _model_with_versions(pair.ours, 1)
    pair.ours.change_stage(v1, "staging", actor="ours")
    head = _head(pair.ours)
    assert pair.ours.change_stage(v1, "staging", actor="ours") is None
    assert pair.ours.update_model(model, add_tags=["keep"], actor="ours") is None
    assert _head(pair.ours) == head
