"""Roles and protected stages, enforced by ``LocalBackend`` (the server runs it behind every
route, with the caller's token's role).

A refused call appends nothing and writes no artifact bytes: the log's rows are counted, and
the artifact folder listed, before and after. Every method of the interface is listed here
as a query or a command, so a method added without being classified fails the first test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from modelplane import config
from modelplane.backend.interface import ADMIN, READ, WRITE, Backend, PageRequest
from modelplane.backend.local import EVENTS_TABLE, LocalBackend
from modelplane.domain.artifact import artifact_id
from modelplane.exceptions import PermissionDeniedError, ValidationError
from modelplane.store_handle import Store


@dataclass(frozen=True)
class World:
    """What the calls below act on, written by the store's owner (role admin)."""

    store: Store
    model_id: UUID
    v1: UUID
    v2: UUID
    artifact_version: UUID
    run_id: UUID
    stored: Any


@pytest.fixture
def world(store: str) -> World:
    owner = LocalBackend(Store.current(), "owner")
    model = owner.create_model("iris", {}, None)
    v1 = owner.create_model_version("iris", None, None, None)
    v2 = owner.create_model_version("iris", None, None, None)
    stored = owner.store_artifact([1, 2, 3])
    recorded = owner.record_artifact_version("dataset", stored, None, None, None, v1.id, "data")
    run_id = uuid4()
    owner.start_run(run_id, "run-1", "p", v1.id, "named", None, {})
    owner.set_model_version_alias("iris", 1, "champion")
    owner.set_model_tag("iris", "team", "ml")
    owner.set_model_version_tag(v1.id, "k", "v")
    return World(Store.current(), model.id, v1.id, v2.id, recorded.id, run_id, stored)


Call = Callable[[Backend, World], Any]

QUERIES: dict[str, Call] = {
    "get_model": lambda b, w: b.get_model("iris"),
    "list_models": lambda b, w: b.list_models(None, None, PageRequest()),
    "model_lives": lambda b, w: b.model_lives("iris"),
    "model_name_history": lambda b, w: b.model_name_history(w.model_id),
    "model_id_for_name": lambda b, w: b.model_id_for_name("iris"),
    "get_model_version": lambda b, w: b.get_model_version("iris", 1),
    "get_model_version_by_id": lambda b, w: b.get_model_version_by_id(w.v1),
    "list_model_versions": lambda b, w: b.list_model_versions(
        "iris", None, None, None, PageRequest()
    ),
    "get_stage_history": lambda b, w: b.get_stage_history("iris", None, None),
    "list_events": lambda b, w: b.list_events(None, None, 10),
    "follow_events": lambda b, w: b.follow_events(0, None, None).close(),  # type: ignore[attr-defined]
    "metadata_of": lambda b, w: b.metadata_of(w.v1),
    "get_artifact_version": lambda b, w: b.get_artifact_version("dataset", None),
    "list_artifact_versions": lambda b, w: b.list_artifact_versions(None, PageRequest()),
    "linked_artifacts": lambda b, w: b.linked_artifacts(w.v1),
    "consumers_of": lambda b, w: b.consumers_of(w.artifact_version),
    "artifact_name": lambda b, w: b.artifact_name(artifact_id("dataset")),
    "load_artifact": lambda b, w: b.load_artifact(w.stored, "artifact dataset version 1"),
    "get_pipeline_run": lambda b, w: b.get_pipeline_run(w.run_id),
    "list_pipeline_runs": lambda b, w: b.list_pipeline_runs(None, None, None, PageRequest()),
    "steps_of": lambda b, w: b.steps_of(w.run_id),
    "consuming_runs": lambda b, w: b.consuming_runs(w.v1),
    "get_model_version_by_alias": lambda b, w: b.get_model_version_by_alias("iris", "champion"),
    "list_model_aliases": lambda b, w: b.list_model_aliases("iris"),
    "get_alias_history": lambda b, w: b.get_alias_history("iris"),
}

#: commands a ``write`` role may run
WRITES: dict[str, Call] = {
    "create_model": lambda b, w: b.create_model("other", {"license": "MIT"}, ["t"]),
    "update_model": lambda b, w: b.update_model("iris", None, {"license": "MIT"}, ["t"], None),
    "delete_model": lambda b, w: b.delete_model("iris", "gone"),
    "create_model_version": lambda b, w: b.create_model_version("iris", "rc", None, None),
    "update_model_version": lambda b, w: b.update_model_version(w.v1, stage="staging"),
    "delete_model_version": lambda b, w: b.delete_model_version(w.v2, None),
    "log_model_version_metadata": lambda b, w: b.log_model_version_metadata(w.v1, {"a": 1}),
    "log_artifact_metadata": lambda b, w: b.log_artifact_metadata(w.artifact_version, {"a": 1}),
    "log_run_metadata": lambda b, w: b.log_run_metadata(w.run_id, {"a": 1}),
    "store_artifact": lambda b, w: b.store_artifact({"new": "bytes"}),
    "record_artifact_version": lambda b, w: b.record_artifact_version(
        "dataset", w.stored, None, None, None, None, "data"
    ),
    "link_artifact": lambda b, w: b.link_artifact(w.v2, w.artifact_version, "model"),
    "start_run": lambda b, w: b.start_run(uuid4(), "run-2", "p", None, None, None, {}),
    "finish_step": lambda b, w: b.finish_step(w.run_id, "train", {}, {}, 1.0, None),
    "finish_run": lambda b, w: b.finish_run(w.run_id, "completed"),
    "set_model_version_alias": lambda b, w: b.set_model_version_alias("iris", 2, "champion"),
    "delete_model_version_alias": lambda b, w: b.delete_model_version_alias("iris", "champion"),
    "set_model_tag": lambda b, w: b.set_model_tag("iris", "team", "other"),
    "delete_model_tag": lambda b, w: b.delete_model_tag("iris", "team"),
    "set_model_version_tag": lambda b, w: b.set_model_version_tag(w.v1, "k", "other"),
    "delete_model_version_tag": lambda b, w: b.delete_model_version_tag(w.v1, "k"),
}

#: what only ``admin`` may do
ADMINS: dict[str, Call] = {
    "create_token": lambda b, w: b.create_token("ci", "write"),
    "list_tokens": lambda b, w: b.list_tokens(),
    "revoke_token": lambda b, w: b.revoke_token("ci"),
    "rebuild_projections": lambda b, w: b.rebuild_projections(),
    "read_log": lambda b, w: b.read_log(0, None, 10),
    "create_webhook": lambda b, w: b.create_webhook("http://127.0.0.1:9/", ["*"], None, None),
    "list_webhooks": lambda b, w: b.list_webhooks(),
    "get_webhook": lambda b, w: b.get_webhook(uuid4()),
    "delete_webhook": lambda b, w: b.delete_webhook(uuid4(), None),
    "list_webhook_deliveries": lambda b, w: b.list_webhook_deliveries(uuid4(), 10),
}


def _log_rows(store: Store) -> int:
    from sqlalchemy import text

    with store.read() as conn:
        return int(conn.execute(text(f"SELECT COUNT(*) FROM {EVENTS_TABLE}")).scalar_one())


def _artifact_files() -> set[Path]:
    root = config.home() / "artifacts"
    return set(root.rglob("*")) if root.exists() else set()


def _refused(call: Call, backend: Backend, world: World) -> PermissionDeniedError:
    """The call's refusal, after checking that it appended nothing and stored no bytes."""
    rows, files = _log_rows(world.store), _artifact_files()
    with pytest.raises(PermissionDeniedError) as refusal:
        call(backend, world)
    assert _log_rows(world.store) == rows
    assert _artifact_files() == files
    return refusal.value


def _as(role: str, world: World, protected: frozenset[str] = frozenset()) -> LocalBackend:
    return LocalBackend(world.store, f"a-{role}", role=role, protected_stages=protected)


def test_every_method_of_the_interface_is_classified() -> None:
    methods = set(Backend.__abstractmethods__) - {"actor", "location"}
    assert set(QUERIES) | set(WRITES) | set(ADMINS) == methods
    assert not set(QUERIES) & set(WRITES) and not set(WRITES) & set(ADMINS)


def test_read_runs_every_query_and_appends_nothing(world: World) -> None:
    reader = _as(READ, world)
    rows = _log_rows(world.store)
    for call in QUERIES.values():
        call(reader, world)
    assert reader.load_artifact(world.stored, "artifact dataset version 1") == [1, 2, 3]
    assert _log_rows(world.store) == rows


@pytest.mark.parametrize("name", [*WRITES, *ADMINS])
def test_read_is_refused_every_command(world: World, name: str) -> None:
    call = {**WRITES, **ADMINS}[name]
    error = _refused(call, _as(READ, world), world)
    needed = WRITE if name in WRITES else ADMIN
    assert f"needs the {needed} role" in str(error) and "has the read role" in str(error)


def test_the_role_is_checked_before_the_actor_is_asked(world: World) -> None:
    """A refused caller learns about its role, not about its (here broken) actor setting."""

    def broken_actor() -> str:
        raise config.ConfigError("MODELPLANE_ACTOR is unusable")

    reader = LocalBackend(world.store, broken_actor, role=READ)
    _refused(WRITES["create_model"], reader, world)


@pytest.mark.parametrize("name", list(WRITES))
def test_write_runs_every_command(world: World, name: str) -> None:
    writer = _as(WRITE, world)
    rows = _log_rows(world.store)
    WRITES[name](writer, world)
    if name != "store_artifact":  # bytes only: the log records them when a version does
        assert _log_rows(world.store) > rows


@pytest.mark.parametrize("name", list(ADMINS))
def test_write_cannot_manage_tokens_or_rebuild(world: World, name: str) -> None:
    error = _refused(ADMINS[name], _as(WRITE, world), world)
    assert "needs the admin role; this caller has the write role" in str(error)


def test_admin_rebuilds_the_read_tables(world: World) -> None:
    result = _as(ADMIN, world).rebuild_projections()
    assert result.events == _log_rows(world.store)


def test_an_unknown_role_is_refused(world: World) -> None:
    with pytest.raises(ValidationError, match="'owner' is not a role"):
        LocalBackend(world.store, "x", role="owner")


def test_commands_record_the_actor_asked_at_each_call(world: World) -> None:
    names = iter(["first", "second"])
    backend = LocalBackend(world.store, lambda: next(names), role=WRITE)
    backend.log_model_version_metadata(world.v1, {"a": 1})
    backend.log_model_version_metadata(world.v1, {"a": 2})
    history = backend.metadata_of(world.v1)["a"].history
    assert [entry.actor for entry in history] == ["first", "second"]


# ------------------------------------------------------------------ protected stages

PRODUCTION = frozenset({"production"})


def _moving(which: str, stage: str, force: bool = False) -> Call:
    """Moving version ``which`` ("v1", "v2") of the world into ``stage``."""
    return lambda b, w: b.update_model_version(
        getattr(w, which), stage=stage, force=force, reason="r"
    )


def _stage(world: World, version_id: UUID) -> str:
    return str(_as(READ, world).get_model_version_by_id(version_id).stage)


def test_write_moves_versions_between_unprotected_stages(world: World) -> None:
    writer = _as(WRITE, world, PRODUCTION)
    writer.update_model_version(world.v1, stage="staging")
    writer.update_model_version(world.v2, stage="staging", force=True)  # displaces v1
    writer.update_model_version(world.v2, stage="archived", name="old", add_tags=["x"])
    assert (_stage(world, world.v1), _stage(world, world.v2)) == ("archived", "archived")


def test_write_cannot_move_a_version_into_a_protected_stage(world: World) -> None:
    writer = _as(WRITE, world, PRODUCTION)
    error = _refused(_moving("v1", "Production"), writer, world)
    assert str(error).startswith(
        "Moving a version into or out of 'production' needs the admin role; this caller "
        "has the write role"
    )
    assert _stage(world, world.v1) == "none"


def test_write_cannot_move_a_version_out_of_a_protected_stage(world: World) -> None:
    _as(ADMIN, world, PRODUCTION).update_model_version(world.v1, stage="production")
    writer = _as(WRITE, world, PRODUCTION)
    for stage in ("archived", "staging", "none", "production"):
        _refused(_moving("v1", stage), writer, world)
    # what moves no stage is still the writer's to change
    renamed = writer.update_model_version(world.v1, name="gold", add_tags=["best"])
    assert (renamed.name, str(renamed.stage)) == ("gold", "production")


def test_a_forced_promotion_displacing_a_protected_holder_needs_admin(world: World) -> None:
    _as(ADMIN, world, PRODUCTION).update_model_version(world.v1, stage="production")
    call = _moving("v2", "production", force=True)
    _refused(call, _as(WRITE, world, PRODUCTION), world)
    assert (_stage(world, world.v1), _stage(world, world.v2)) == ("production", "none")

    call(_as(ADMIN, world, PRODUCTION), world)
    assert (_stage(world, world.v1), _stage(world, world.v2)) == ("archived", "production")


def test_write_cannot_delete_a_protected_holder_or_its_model(world: World) -> None:
    _as(ADMIN, world, PRODUCTION).update_model_version(world.v1, stage="production")
    writer = _as(WRITE, world, PRODUCTION)
    error = _refused(lambda b, w: b.delete_model_version(w.v1, None), writer, world)
    assert "Deleting a version in 'production' needs the admin role" in str(error)
    error = _refused(lambda b, w: b.delete_model("iris", None), writer, world)
    assert "Deleting a model with a version in 'production' needs the admin role" in str(error)
    writer.delete_model_version(world.v2, None)  # v2 holds no protected stage


def test_admin_moves_protected_stages_and_no_protection_leaves_write_free(
    world: World,
) -> None:
    _as(ADMIN, world, PRODUCTION).update_model_version(world.v1, stage="production")
    _as(ADMIN, world, PRODUCTION).update_model_version(world.v1, stage="archived")
    _as(WRITE, world).update_model_version(world.v2, stage="production")
    assert _stage(world, world.v2) == "production"
