"""The application service on the library's in-memory persistence (``eventsourcing.popo``).

The same ``Registry`` the stores use, with its orjson mapper and its cache: every command
loads, calls an aggregate method and saves, so these tests check the wiring (what is
loaded, what one save appends, the errors users see) in milliseconds. The database-backed
tests (tests/integration/test_sdk.py, tests/integration/test_atomic_commands.py ...)
check the same on SQLite and PostgreSQL with the read tables.
"""

from __future__ import annotations

import contextlib
import copy
from typing import Any
from uuid import UUID, uuid4

import pytest

from modelplane.domain.errors import (
    EntityDeletedError,
    EntityExistsError,
    NotFoundError,
    RunEndedError,
    StageOccupiedError,
    ValidationError,
)
from modelplane.domain.model import model_name_id
from modelplane.domain.registry import Registry
from modelplane.domain.version_names import version_name_id
from tests.unit.popo import head
from tests.unit.stored_value import Stored


def stored_events(registry: Registry, aggregate_id: UUID) -> list[str]:
    return [type(e).__name__ for e in registry.events.get(aggregate_id)]


def forget(registry: Registry, aggregate_id: UUID) -> None:
    """Drop an aggregate from the cache, as a new process would not have it."""
    cache = registry.repository.cache
    assert cache is not None
    with contextlib.suppress(KeyError):
        cache.get(aggregate_id, evict=True)


def model_with_versions(registry: Registry, *names: str | None) -> tuple[UUID, list[UUID]]:
    model = registry.register_model("iris", fields={}, tags=None, actor="me")
    versions = [registry.create_version(model.id, name=n, actor="me").id for n in names]
    return model.id, versions


# --------------------------------------------------------------------- names


def test_a_name_is_taken_released_by_deletion_and_registered_again(registry: Registry) -> None:
    first = registry.register_model("iris", fields={"license": "MIT"}, tags=["a"], actor="me")
    with pytest.raises(EntityExistsError) as raised:
        registry.register_model("iris", fields={}, tags=None, actor="me")
    assert str(raised.value) == (
        "Unable to register model 'iris': a model with that name already exists."
    )
    registry.delete_model(first.id, actor="me", reason="retired")
    assert registry.model_id_for_name("iris") is None
    second = registry.register_model("iris", fields={}, tags=None, actor="me")
    assert registry.model_id_for_name("iris") == second.id != first.id
    assert stored_events(registry, model_name_id("iris")) == [
        "Created",
        "Claimed",
        "Released",
        "Claimed",
    ]


def test_a_name_entry_this_process_never_saw_is_found_on_the_second_attempt(
    registry: Registry,
) -> None:
    """A first attempt does not look the name up; when the name was used before, the save
    conflicts and the re-run finds the entry: taken is refused, released is claimed."""
    first = registry.register_model("iris", fields={}, tags=None, actor="me")
    forget(registry, model_name_id("iris"))
    before = head(registry)
    with pytest.raises(EntityExistsError, match="already exists"):
        registry.register_model("iris", fields={}, tags=None, actor="me")
    assert head(registry) == before
    registry.delete_model(first.id, actor="me")
    forget(registry, model_name_id("iris"))
    second = registry.register_model("iris", fields={}, tags=None, actor="me")
    assert registry.model_id_for_name("iris") == second.id
    assert stored_events(registry, model_name_id("iris")).count("Created") == 1


def test_a_rename_frees_the_old_name_and_refuses_a_taken_one(registry: Registry) -> None:
    iris = registry.register_model("iris", fields={}, tags=None, actor="me")
    registry.register_model("mnist", fields={}, tags=None, actor="me")
    with pytest.raises(EntityExistsError) as raised:
        registry.update_model(iris.id, name="mnist", actor="me")
    assert str(raised.value) == "Unable to rename model 'iris' to 'mnist': that name is taken."
    assert registry.update_model(iris.id, name="flowers", actor="me") == head(registry)
    assert registry.model_id_for_name("flowers") == iris.id
    assert registry.model_id_for_name("iris") is None
    assert registry.update_model(iris.id, name="flowers", actor="me") is None
    registry.register_model("iris", fields={}, tags=None, actor="me")


def test_names_are_checked_before_anything_is_loaded(registry: Registry) -> None:
    for bad in ("", " iris", "a/b", "x" * 256):
        with pytest.raises(ValidationError):
            registry.register_model(bad, fields={}, tags=None, actor="me")
    assert head(registry) == 0


# ------------------------------------------------------------------ versions


def test_version_numbers_are_never_reused(registry: Registry) -> None:
    model_id, (_, two) = model_with_versions(registry, None, None)
    registry.delete_version(two, actor="me")
    three = registry.create_version(model_id, actor="me")
    _, version = registry.live_version(three.id)
    assert version.number == 3 and version.name == "3"


def test_a_custom_name_is_unique_and_freed_by_delete_and_by_rename(registry: Registry) -> None:
    model_id, (rc,) = model_with_versions(registry, "rc")
    with pytest.raises(EntityExistsError) as raised:
        registry.create_version(model_id, name="rc", actor="me")
    assert str(raised.value) == (
        "Unable to create model version iris (version rc): a version with the same name "
        "already exists."
    )
    registry.update_version(rc, name="gold", actor="me")
    again = registry.create_version(model_id, name="rc", actor="me")
    with pytest.raises(EntityExistsError) as raised:
        registry.update_version(again.id, name="gold", actor="me")
    assert str(raised.value) == "Model 'iris' already has a version named 'gold'."
    registry.delete_version(rc, actor="me")
    registry.update_version(again.id, name="gold", actor="me")


def test_a_version_name_entry_this_process_never_saw_is_found_on_the_second_attempt(
    registry: Registry,
) -> None:
    model_id, (rc,) = model_with_versions(registry, "rc")
    entry_id = version_name_id(model_id, "rc")
    assert stored_events(registry, entry_id) == ["Created", "Claimed"]
    forget(registry, entry_id)
    before = head(registry)
    with pytest.raises(EntityExistsError, match="a version with the same name"):
        registry.create_version(model_id, name="rc", actor="me")
    assert head(registry) == before
    registry.delete_version(rc, actor="me")
    forget(registry, entry_id)
    again = registry.create_version(model_id, name="rc", actor="me")
    assert stored_events(registry, entry_id) == ["Created", "Claimed", "Released", "Claimed"]
    assert registry.live_version(again.id)[1].name == "rc"
    assert registry.live_model(model_id).custom_names == {}


# -------------------------------------------------------------------- stages


def test_an_occupied_stage_is_refused_without_force_and_nothing_is_appended(
    registry: Registry,
) -> None:
    _, (one, rc) = model_with_versions(registry, None, "rc")
    registry.change_stage(one, "production", actor="me")
    before = head(registry)
    with pytest.raises(StageOccupiedError) as raised:
        registry.update_version(rc, name="renamed", add_tags=["x"], stage="production", actor="me")
    assert str(raised.value) == (
        "Model version '1' of model 'iris' is in production; promoting version 'renamed' "
        "needs force=True, which moves '1' to archived."
    )
    assert head(registry) == before
    model, version = registry.live_version(rc)
    assert (version.name, version.tags, model.holder("production")) == ("rc", [], str(one))


def test_a_forced_promotion_appends_both_moves_in_one_save(registry: Registry) -> None:
    model_id, (one, rc) = model_with_versions(registry, None, "rc")
    registry.change_stage(one, "production", actor="me")
    before = head(registry)
    position = registry.change_stage(rc, "production", force=True, reason="better", actor="me")
    # the model's two moves, and each version's own record of its new stage
    assert position == before + 4 == head(registry)
    assert stored_events(registry, one)[-1] == stored_events(registry, rc)[-1] == "StageSet"
    assert registry.live_version(one)[1].stage == "archived"
    moves = [e for e in registry.events.get(model_id) if type(e).__name__ == "StageChanged"]
    archived, promoted = moves[-2:]
    assert (archived.version_id, archived.stage) == (str(one), "archived")  # type: ignore[attr-defined]
    assert (promoted.version_id, promoted.displaced_version_id) == (str(rc), str(one))  # type: ignore[attr-defined]
    assert registry.change_stage(rc, "production", actor="me") is None


def test_a_stage_is_required_and_latest_cannot_be_assigned(registry: Registry) -> None:
    _, (one,) = model_with_versions(registry, None)
    with pytest.raises(ValidationError, match="A stage is required"):
        registry.change_stage(one, None, actor="me")
    with pytest.raises(ValidationError, match="virtual stage"):
        registry.change_stage(one, "latest", actor="me")


def test_deleted_versions_and_models_refuse_commands_with_the_users_words(
    registry: Registry,
) -> None:
    model_id, (one, rc) = model_with_versions(registry, None, "rc")
    registry.delete_version(rc, actor="me")
    for command in (
        lambda: registry.change_stage(rc, "staging", actor="me"),
        lambda: registry.log_metadata(rc, {"k": 1}, actor="me"),
        lambda: registry.delete_version(rc, actor="me"),
    ):
        with pytest.raises(EntityDeletedError) as raised:
            command()
        assert str(raised.value) == "Version 'rc' of model 'iris' was deleted."
    registry.delete_model(model_id, actor="me")
    for command in (
        lambda: registry.change_stage(one, "staging", actor="me"),
        lambda: registry.log_metadata(one, {"k": 1}, actor="me"),
        lambda: registry.create_version(model_id, actor="me"),
        lambda: registry.update_model(model_id, fields={"license": "x"}, actor="me"),
        lambda: registry.delete_model(model_id, actor="me"),
    ):
        with pytest.raises(EntityDeletedError) as raised:
            command()
        assert str(raised.value) == f"Model 'iris' ({model_id}) was deleted."


def test_deleting_a_model_names_its_stage_holders(registry: Registry) -> None:
    model_id, (one, rc) = model_with_versions(registry, None, "rc")
    registry.change_stage(one, "staging", actor="me")
    registry.change_stage(rc, "production", actor="me")
    registry.delete_model(model_id, actor="me")
    deleted = list(registry.events.get(model_id))[-1]
    assert [(h["stage"], h["version_name"]) for h in deleted.holders] == [  # type: ignore[attr-defined]
        ("staging", "1"),
        ("production", "rc"),
    ]


def test_unknown_ids_are_not_found(registry: Registry) -> None:
    missing = uuid4()
    with pytest.raises(NotFoundError, match=f"No model with id '{missing}' exists"):
        registry.create_version(missing, actor="me")
    with pytest.raises(NotFoundError, match=f"No model version with id '{missing}' exists"):
        registry.log_metadata(missing, {"k": 1}, actor="me")
    with pytest.raises(NotFoundError, match=f"No pipeline run with id '{missing}' exists"):
        registry.finish_run(missing, status="failed", actor="me")
    with pytest.raises(NotFoundError, match="No artifact named 'weights' exists"):
        registry.log_artifact_metadata(
            "weights", missing, {"k": 1}, artifact_version_number=1, actor="me"
        )


# ------------------------------------------------------------ artifacts, runs


def test_an_artifact_version_is_recorded_and_linked_once(registry: Registry) -> None:
    _, (one,) = model_with_versions(registry, None)
    before = head(registry)
    recorded = registry.record_artifact_version(
        "weights", stored=Stored(), link_to=one, link_kind="model", actor="me"
    )
    assert (recorded.number, recorded.position) == (1, before + 3)  # registered, recorded, linked

    def link(kind: str, number: int = 1) -> int | None:
        return registry.link_artifact(
            one, "weights", recorded.id, artifact_version_number=number, kind=kind, actor="me"
        )

    assert link("model") is None
    with pytest.raises(NotFoundError, match="has no version 2 with id"):
        link("data", number=2)
    position = link("data")
    assert position == head(registry) == before + 4
    second = registry.record_artifact_version("weights", stored=Stored(), actor="me")
    assert second.number == 2
    with pytest.raises(NotFoundError, match="has no version 1 with id"):
        registry.link_artifact(one, "weights", uuid4(), artifact_version_number=1, actor="me")
    with pytest.raises(ValidationError, match="is not a link kind"):
        registry.record_artifact_version("weights", stored=Stored(), link_kind="x", actor="me")


def test_an_ended_run_refuses_steps_and_a_second_end_but_takes_metadata(
    registry: Registry,
) -> None:
    run = registry.start_run("nightly", pipeline="train", actor="me")
    registry.finish_step(run.id, "train", inputs={}, outputs={}, duration_ms=3)
    registry.finish_run(run.id, status="failed", error="killed", actor="me")
    for command in (
        lambda: registry.finish_run(run.id, status="completed", actor="me"),
        lambda: registry.finish_step(run.id, "late", inputs={}, outputs={}, duration_ms=1),
    ):
        with pytest.raises(RunEndedError) as raised:
            command()
        assert (str(raised.value), raised.value.error) == (
            "Pipeline run 'nightly' already ended (failed).",
            "killed",
        )
    assert registry.log_run_metadata(run.id, {"k": 1}, actor="me") == head(registry)
    with pytest.raises(ValidationError, match="not 'done'"):
        registry.finish_run(run.id, status="done", actor="me")


def test_a_run_id_given_up_front_is_refused_when_taken(registry: Registry) -> None:
    _, (one,) = model_with_versions(registry, None)
    run_id = uuid4()
    run = registry.start_run(
        "r",
        pipeline="p",
        model_version_id=one,
        model_version_how="named",
        actor="me",
        run_id=run_id,
    )
    assert run.id == run_id
    for cached in (True, False):
        if not cached:
            forget(registry, run_id)
        before = head(registry)
        with pytest.raises(EntityExistsError) as raised:
            registry.start_run("r", pipeline="p", actor="me", run_id=run_id)
        assert str(raised.value) == f"A pipeline run with id '{run_id}' already exists."
        assert head(registry) == before


# ------------------------------------------------------------ races, mapper


def test_a_command_on_a_stale_cached_aggregate_reruns_on_fresh_state(registry: Registry) -> None:
    """Another writer appended first: the save conflicts, the copy is evicted, the re-run
    loads what is in the log and checks the rule against it."""
    model_id, (one, rc) = model_with_versions(registry, None, "rc")
    cache = registry.repository.cache
    assert cache is not None
    stale: Any = copy.deepcopy(cache.get(model_id))
    registry.change_stage(one, "production", actor="me")
    cache.put(model_id, stale)
    before = head(registry)
    # the stale copy has production free: only a re-run on the log's state refuses this
    with pytest.raises(StageOccupiedError, match="Model version '1' of model 'iris'"):
        registry.change_stage(rc, "production", actor="me")
    assert head(registry) == before
    assert registry.live_model(model_id).holder("production") == str(one)
    assert registry.change_stage(rc, "staging", actor="me") == before + 2  # + StageSet


def test_aggregates_round_trip_through_the_orjson_mapper(registry: Registry) -> None:
    model_id, (one, _) = model_with_versions(registry, None, "rc")
    registry.change_stage(one, "staging", actor="me")
    registry.update_model(model_id, fields={"license": "MIT"}, add_tags=["x"], actor="me")
    cached = registry.live_model(model_id)
    forget(registry, model_id)
    loaded = registry.live_model(model_id)
    assert loaded is not cached
    assert vars(loaded) == vars(cached)
