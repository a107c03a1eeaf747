"""Aliases on the ``Model`` aggregate and through ``Registry``, without a store.

An alias names at most one version of its model; setting it moves it in one event; deleting
a version or the model drops its aliases as events of the same command. Names follow MLflow.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any
from uuid import uuid4

import orjson
import pytest
from eventsourcing.domain import Snapshot
from hypothesis import given, settings
from hypothesis import strategies as st

from modelplane.domain.aliases import MAX_ALIAS_LENGTH, check_alias
from modelplane.domain.errors import EntityDeletedError, NotFoundError, ValidationError
from modelplane.domain.model import Model, ModelName
from modelplane.domain.model_version import ModelVersion
from modelplane.domain.registry import Registry
from modelplane.domain.serialization import OrjsonMapper
from tests.unit.popo import head
from tests.unit.test_domain_model import delete, model_with_versions, names, settled


def pending(model: Model) -> list[tuple[str, Any, Any, Any]]:
    """The model's pending alias events as (type, alias, version id, previous version id)."""
    return [
        (
            type(e).__name__,
            getattr(e, "alias", None),
            getattr(e, "version_id", None),
            getattr(e, "previous_version_id", None),
        )
        for e in model.collect_events()
    ]


# --------------------------------------------------------------------- the aggregate


def test_setting_an_alias_and_moving_it_are_one_event_each() -> None:
    model, (one, two) = model_with_versions(None, None)
    assert model.set_alias("champion", one, actor="me", reason="first")
    assert model.set_alias("champion", two, actor="me", reason="better")
    first, moved = model.collect_events()
    assert (first.alias, first.version_id, first.previous_version_id) == (  # type: ignore[attr-defined]
        "champion",
        str(one.id),
        None,
    )
    assert (moved.version_id, moved.version_number) == (str(two.id), 2)  # type: ignore[attr-defined]
    assert (moved.previous_version_id, moved.previous_version_number) == (str(one.id), 1)  # type: ignore[attr-defined]
    assert moved.reason == "better" and moved.actor == "me"  # type: ignore[attr-defined]
    assert model.alias_holder("champion") == str(two.id)
    assert model.aliases_of(str(one.id)) == []


def test_setting_an_alias_on_its_holder_triggers_nothing() -> None:
    model, (one,) = model_with_versions(None)
    model.set_alias("champion", one, actor="me")
    settled(model)
    assert not model.set_alias("champion", one, actor="someone else", reason="again")
    assert model.collect_events() == []


def test_a_model_has_any_number_of_aliases_and_a_version_several() -> None:
    model, (one, two) = model_with_versions(None, None)
    for alias in ("champion", "prod", "3", "blue-green_1"):
        model.set_alias(alias, one, actor="me")
    model.set_alias("challenger", two, actor="me")
    assert model.aliases_of(str(one.id)) == ["3", "blue-green_1", "champion", "prod"]
    assert model.aliases_of(str(two.id)) == ["challenger"]


def test_aliases_are_case_sensitive() -> None:
    model, (one, two) = model_with_versions(None, None)
    model.set_alias("Champion", one, actor="me")
    model.set_alias("champion", two, actor="me")
    assert model.alias_holder("Champion") == str(one.id)
    assert model.alias_holder("champion") == str(two.id)


def test_removing_an_alias_nobody_holds_is_not_found() -> None:
    model, (one,) = model_with_versions(None)
    with pytest.raises(NotFoundError, match="no alias 'champion'"):
        model.remove_alias("champion", actor="me")
    model.set_alias("champion", one, actor="me")
    model.remove_alias("champion", actor="me", reason="retired")
    assert pending(model)[-1] == ("AliasRemoved", "champion", str(one.id), None)
    with pytest.raises(NotFoundError):
        model.remove_alias("champion", actor="me")


def test_a_deleted_version_cannot_take_an_alias() -> None:
    model, (one,) = model_with_versions(None)
    delete(model, one)
    settled(model, one)
    with pytest.raises(EntityDeletedError) as refused:
        model.set_alias("champion", one, actor="me")
    assert isinstance(refused.value, NotFoundError)
    assert model.collect_events() == []


def test_a_version_of_another_model_cannot_take_an_alias() -> None:
    model, _ = model_with_versions(None)
    _, (foreign,) = model_with_versions(None)
    with pytest.raises(NotFoundError, match="not a version of model"):
        model.set_alias("champion", foreign, actor="me")


def test_deleting_a_version_drops_its_aliases_first_saying_why() -> None:
    model, (one, two) = model_with_versions(None, None)
    model.set_alias("champion", one, actor="me")
    model.set_alias("prod", one, actor="me")
    model.set_alias("challenger", two, actor="me")
    settled(model)
    delete(model, one, reason="leaked data")
    events = model.collect_events()
    assert names(events) == ["AliasRemoved", "AliasRemoved", "VersionDeleted"]
    assert [(e.alias, e.version_id) for e in events[:2]] == [  # type: ignore[attr-defined]
        ("champion", str(one.id)),
        ("prod", str(one.id)),
    ]
    assert {e.reason for e in events[:2]} == {"version '1' deleted: leaked data"}  # type: ignore[attr-defined]
    assert model.alias_holder("champion") is None
    assert model.alias_holder("challenger") == str(two.id)


def test_deleting_the_model_drops_every_alias_before_its_deletion() -> None:
    model, (one, two) = model_with_versions(None, None)
    model.set_alias("champion", one, actor="me")
    model.set_alias("challenger", two, actor="me")
    settled(model)
    index = ModelName(name="iris")
    index.claim(str(model.id))
    model.delete(index, holders=[], actor="me", reason="retired")
    events = model.collect_events()
    assert names(events) == ["AliasRemoved", "AliasRemoved", "Deleted"]
    assert {e.reason for e in events[:2]} == {"model 'iris' deleted: retired"}  # type: ignore[attr-defined]


def test_a_refused_deletion_drops_no_alias() -> None:
    model, (one,) = model_with_versions(None)
    model.set_alias("champion", one, actor="me")
    model.promote(one, "production", actor="me")
    settled(model)
    index = ModelName(name="iris")
    index.claim(str(model.id))
    with pytest.raises(ValueError, match="needs its production holder"):
        model.delete(index, holders=[], actor="me")
    assert model.collect_events() == [] and model.alias_holder("champion") == str(one.id)


def test_aliases_come_back_from_a_snapshot_and_an_old_snapshot_has_none() -> None:
    model, (one,) = model_with_versions(None)
    model.set_alias("champion", one, actor="me")
    settled(model)
    snapshot = Snapshot.take(copy.deepcopy(model))
    mapper = OrjsonMapper()
    stored = mapper.to_stored_event(snapshot)
    read_back: Any = mapper.to_domain_event(stored)
    restored = read_back.mutate(None)
    assert isinstance(restored, Model) and restored.alias_holder("champion") == str(one.id)

    old = Snapshot.take(copy.deepcopy(model))
    del old.state["aliases"]
    del old.state["key_value_tags"]
    before = old.mutate(None)
    assert isinstance(before, Model) and before.alias_holder("champion") is None
    assert before.set_alias("champion", one, actor="me")


# ------------------------------------------------------------------------ the names


@pytest.mark.parametrize(
    "alias",
    ["champion", "a", "3", "007", "v", "v1a", "vv1", "x-y_z", "冠军", "chámpion", "Ω", "a" * 255],
)
def test_mlflow_alias_names_are_accepted(alias: str) -> None:
    assert check_alias(alias) == alias


@pytest.mark.parametrize(
    "alias",
    [
        "",
        "a" * 256,
        "latest",
        "LATEST",
        "Latest",
        "v1",
        "V12",
        "v007",
        "a b",
        "a/b",
        "a.b",
        "<b>x</b>",
        "[bold]x[/]",
        "champion\n",
        "\nchampion",
        "cham\x00pion",
        "cham\u200bpion",
        "\ud800",
        "a@1",
    ],
)
def test_other_alias_names_are_refused(alias: str) -> None:
    with pytest.raises(ValidationError):
        check_alias(alias)


def test_an_alias_is_normalised_to_nfc() -> None:
    decomposed = "champe\u0301on"
    assert check_alias(decomposed) == "champ\u00e9on"


@pytest.mark.parametrize("alias", [None, 3, b"champion", ["a"]])
def test_an_alias_must_be_text(alias: object) -> None:
    with pytest.raises(ValidationError, match="must be a string"):
        check_alias(alias)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=MAX_ALIAS_LENGTH + 5))
def test_an_accepted_alias_is_word_characters_and_hyphens_only(alias: str) -> None:
    try:
        checked = check_alias(alias)
    except ValidationError:
        return
    assert 1 <= len(checked) <= MAX_ALIAS_LENGTH
    assert all(c.isalnum() or c in "_-" for c in checked)
    assert checked.lower() != "latest"


# ------------------------------------------------------------------------ the registry


def _model_and_versions(registry: Registry, count: int) -> tuple[Any, list[Any]]:
    model = registry.register_model("iris", fields={}, tags=None, actor="me")
    versions = [registry.create_version(model.id, actor="me") for _ in range(count)]
    return model, versions


def test_the_registry_appends_one_event_per_move_and_none_for_a_repeat(
    registry: Registry,
) -> None:
    model, (one, two) = _model_and_versions(registry, 2)
    first = registry.set_alias(model.id, one.id, "champion", actor="me")
    assert first == head(registry)
    assert registry.set_alias(model.id, one.id, "champion", actor="me") is None
    assert head(registry) == first
    assert registry.set_alias(model.id, two.id, "champion", actor="me") == first + 1
    assert registry.live_model(model.id).alias_holder("champion") == str(two.id)


def test_the_registry_refuses_a_version_of_another_model(registry: Registry) -> None:
    model, (one,) = _model_and_versions(registry, 1)
    other = registry.register_model("mnist", fields={}, tags=None, actor="me")
    before = head(registry)
    with pytest.raises(NotFoundError):
        registry.set_alias(other.id, one.id, "champion", actor="me")
    with pytest.raises(NotFoundError):
        registry.set_alias(model.id, uuid4(), "champion", actor="me")
    assert head(registry) == before


def test_the_registry_refuses_bad_input_before_loading(registry: Registry) -> None:
    model, (one,) = _model_and_versions(registry, 1)
    before = head(registry)
    with pytest.raises(ValidationError):
        registry.set_alias(model.id, one.id, "latest", actor="me")
    with pytest.raises(ValidationError):
        registry.set_alias(model.id, one.id, "champion", actor="me", reason="\x00")
    with pytest.raises(ValidationError):
        registry.remove_alias(model.id, "v2", actor="me")
    assert head(registry) == before


def test_deleting_a_version_in_the_registry_drops_its_aliases_in_one_save(
    registry: Registry,
) -> None:
    model, (one, two) = _model_and_versions(registry, 2)
    registry.set_alias(model.id, one.id, "champion", actor="me")
    registry.set_alias(model.id, two.id, "challenger", actor="me")
    before = head(registry)
    registry.delete_version(one.id, actor="me", reason="bad")
    topics = [
        n.topic.split(":")[1] for n in registry.notification_log.select(start=before + 1, limit=10)
    ]
    assert topics == ["Model.AliasRemoved", "Model.VersionDeleted", "ModelVersion.Deleted"]
    with pytest.raises(NotFoundError):
        registry.set_alias(model.id, one.id, "champion", actor="me")
    assert registry.live_model(model.id).alias_holder("challenger") == str(two.id)


def test_version_1_of_created_is_read_with_no_source() -> None:
    """A ``ModelVersion.Created`` written before version 2 reads with no source or run."""
    version = ModelVersion(
        model_id=str(uuid4()), number=1, name="1", description=None, tags=[], actor="me"
    )
    (created,) = version.collect_events()
    mapper = OrjsonMapper()
    stored = mapper.to_stored_event(created)
    state = orjson.loads(stored.state)
    assert state.pop("class_version") == 2
    for field in ("source", "source_run_id", "source_run_link"):
        del state[field]
    old: Any = mapper.to_domain_event(replace(stored, state=orjson.dumps(state)))
    assert (old.source, old.source_run_id, old.source_run_link) == (None, None, None)
    assert isinstance(old.mutate(None), ModelVersion)
