"""Snapshots: taken from the state a save holds, and only each aggregate's newest is kept.

Integration tests on both stores, through the SDK, with the snapshot interval of models and
versions cut to 10 events so that a few dozen commands cross it several times.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import Application, Repository
from sqlalchemy import Table, func, select

from modelplane import log_metadata
from modelplane.client import Client
from modelplane.domain.model import Model
from modelplane.domain.model_version import ModelVersion
from modelplane.domain.registry import Registry
from modelplane.domain.retrying import RetryingApplication
from modelplane.projections import persistence
from modelplane.projections.projected_registry import ProjectedRegistry
from modelplane.store_handle import Store, close_all

INTERVAL = 10


@pytest.fixture
def small_interval(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    intervals: dict[type[Any], int] = {
        **Registry.snapshotting_intervals,
        Model: INTERVAL,
        ModelVersion: INTERVAL,
    }
    monkeypatch.setattr(Registry, "snapshotting_intervals", intervals)
    yield
    close_all()  # no registry built with the small interval outlives the test


def _registry() -> ProjectedRegistry:
    return Store.current().registry


def _snapshot_table(registry: ProjectedRegistry) -> Table:
    assert registry.snapshots is not None
    (table,) = registry.snapshots.recorder.tables  # type: ignore[attr-defined]
    return table


def _snapshot_versions(registry: ProjectedRegistry, aggregate_id: UUID) -> list[int]:
    table = _snapshot_table(registry)
    query = (
        select(table.c.originator_version)
        .where(table.c.originator_id == aggregate_id)
        .order_by(table.c.originator_version)
    )
    with registry.engine.connect() as conn:
        return list(conn.execute(query).scalars())


def _most_snapshots_of_one_aggregate(registry: ProjectedRegistry) -> int:
    table = _snapshot_table(registry)
    per_aggregate = (
        select(func.count().label("n")).select_from(table).group_by(table.c.originator_id)
    ).subquery()
    with registry.engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.max(per_aggregate.c.n), 0))).scalar_one())


def _version_of(aggregate_id: UUID) -> int:
    return int(_registry().repository.get(aggregate_id).version)


class Writes:
    """Runs SDK writes, remembering an aggregate's version after each one."""

    def __init__(self, aggregate_id: UUID) -> None:
        self.aggregate_id = aggregate_id
        self.after: list[int] = [_version_of(aggregate_id)]

    def run(self, write: Callable[[], Any], times: int = 1) -> None:
        for _ in range(times):
            write()
            self.after.append(_version_of(self.aggregate_id))

    def expected_snapshot(self) -> int:
        """The version after the save that crossed the last multiple of the interval."""
        last_multiple = self.after[-1] // INTERVAL * INTERVAL
        return min(v for v in self.after if v >= last_multiple)


def _grow(client: Client) -> tuple[Writes, Writes]:
    """A model past 4 intervals (versions, promotions that archive) and a version past 2."""
    client.create_model("big")
    model = Writes(client.get_model("big").id)
    model.run(lambda: client.create_model_version("big"), times=30)
    for number in range(2, 12):
        model.run(
            partial(client.update_model_version, "big", number, stage="production", force=True)
        )
    version = Writes(client.get_model_version("big", 1).id)
    version.run(lambda: log_metadata({"loss": 0.5}, model_name="big", model_version=1), times=25)
    return model, version


def test_one_snapshot_per_aggregate_at_its_last_crossing(
    client: Client, small_interval: None
) -> None:
    model, version = _grow(client)
    assert model.after[-1] >= 4 * INTERVAL and version.after[-1] >= 2 * INTERVAL
    registry = _registry()
    assert _snapshot_versions(registry, model.aggregate_id) == [model.expected_snapshot()]
    assert _snapshot_versions(registry, version.aggregate_id) == [version.expected_snapshot()]
    assert _most_snapshots_of_one_aggregate(registry) == 1


def test_a_fresh_registry_loads_what_a_full_replay_gives(
    client: Client, small_interval: None
) -> None:
    model, version = _grow(client)
    close_all()  # a new process's registry: an empty cache, everything read from the store
    registry = _registry()
    for aggregate_id in (model.aggregate_id, version.aggregate_id):
        (snapshot,) = _snapshot_versions(registry, aggregate_id)
        loaded: Any = registry.repository.get(aggregate_id)
        replayed: Any = Repository(registry.events).get(aggregate_id)  # no snapshot store
        assert snapshot <= loaded.version == replayed.version
        assert vars(loaded) == vars(replayed)
    # and the new process's writes go on from there
    client = Client()
    created = client.create_model_version("big")
    assert created.number == 31
    assert client.get_model_version("big", "production").number == 11


def test_a_write_that_crosses_the_interval_reloads_nothing(
    client: Client, small_interval: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    client.create_model("big")
    model_id = client.get_model("big").id
    while _version_of(model_id) % INTERVAL != INTERVAL - 2:
        client.create_model_version("big")
    registry = _registry()
    calls: list[tuple[UUID, int | None]] = []
    original = registry.repository.get

    def spy(aggregate_id: UUID, *args: Any, **kwargs: Any) -> Any:
        calls.append((aggregate_id, kwargs.get("version")))
        return original(aggregate_id, *args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(registry.repository, "get", spy)
        client.create_model_version("big")  # does not cross
        below = list(calls)
        calls.clear()
        client.create_model_version("big")  # crosses: the model is snapshotted
        crossing = list(calls)
    assert _version_of(model_id) % INTERVAL == 0
    assert _snapshot_versions(registry, model_id) == [_version_of(model_id)]
    # the crossing write loads what any write of its kind loads, and nothing at a version
    assert crossing == below
    assert all(version is None for _, version in crossing)


def test_a_store_holding_every_snapshot_is_pruned_by_the_next_one(
    client: Client, small_interval: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A store written by the library's own snapshotting (a reload, a row per crossing)."""
    with monkeypatch.context() as old:
        old.setattr(RetryingApplication, "_take_snapshots", Application._take_snapshots)
        old.setattr(
            persistence.Factory,
            "snapshot_recorder_class",
            persistence.SQLAlchemyAggregateRecorder,
        )
        client.create_model("big")
        model = Writes(client.get_model("big").id)
        model.run(lambda: client.create_model_version("big"), times=3 * INTERVAL)
        assert len(_snapshot_versions(_registry(), model.aggregate_id)) == 3
        close_all()
    client = Client()  # a new process's: the library's classes are gone
    model.run(lambda: client.create_model_version("big"), times=INTERVAL)
    assert _snapshot_versions(_registry(), model.aggregate_id) == [model.expected_snapshot()]
