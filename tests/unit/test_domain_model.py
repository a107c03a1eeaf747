"""The rules the ``Model`` aggregate and its ``ModelName`` index entry keep, without a store.

Each test builds aggregates, calls a command method and looks at the events it triggered
(``collect_events()``) or the domain error it raised. A refused command must leave nothing
pending: an application saving the aggregate afterwards would append it.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

import orjson
import pytest
from eventsourcing.application import project_aggregate
from eventsourcing.domain import Snapshot
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from modelplane.domain.errors import (
    EntityDeletedError,
    EntityExistsError,
    NotFoundError,
    StageOccupiedError,
    ValidationError,
)
from modelplane.domain.model import Model, ModelName
from modelplane.domain.model_version import ModelVersion
from modelplane.domain.names import edited_tags
from modelplane.domain.serialization import OrjsonMapper
from modelplane.domain.version_names import VersionName

#: The ``VersionName`` entries a store would hold, by model id and name.
_ENTRIES: dict[tuple[str, str], VersionName] = {}


def entry(model: Model, name: str | None) -> VersionName | None:
    """The index entry of a custom version name, as the registry would load it."""
    if name is None or name.isdigit() or not model.needs_name_entries:
        return None
    key = (str(model.id), name)
    if key not in _ENTRIES:
        _ENTRIES[key] = VersionName(model_id=str(model.id), name=name)
    return _ENTRIES[key]


def add(model: Model, name: str | None = None) -> ModelVersion:
    return model.add_version(name=name, name_entry=entry(model, name), actor="me")


def rename(model: Model, version: ModelVersion, name: str, **kwargs: Any) -> bool:
    entries = (entry(model, version.name), entry(model, name))
    return model.update_version(
        version, name=name, name_entries=entries if entries[1] else None, actor="me", **kwargs
    )


def delete(model: Model, version: ModelVersion, **kwargs: Any) -> None:
    model.delete_version(version, name_entry=entry(model, version.name), actor="me", **kwargs)


def registered(name: str = "iris") -> tuple[Model, ModelName]:
    index = ModelName(name=name)
    model = Model.register(index, fields={"license": "MIT"}, tags=["a"], actor="me")
    return model, index


def names(events: Any) -> list[str]:
    return [type(e).__name__ for e in events]


def settled(*aggregates: Any) -> None:
    """Forget what the aggregates have pending, as a save would."""
    for aggregate in aggregates:
        aggregate.collect_events()


def model_with_versions(*version_names: str | None) -> tuple[Model, list[ModelVersion]]:
    model, _ = registered()
    versions = [add(model, n) for n in version_names]
    settled(model, *versions, *_ENTRIES.values())
    return model, versions


# --------------------------------------------------------------------- names


def test_registering_claims_the_name_in_its_index_entry() -> None:
    model, index = registered()
    assert index.model_id == str(model.id)
    assert names(model.collect_events()) == ["Registered"]
    assert names(index.collect_events()) == ["Created", "Claimed"]


def test_a_taken_name_refuses_registration_and_claims_nothing() -> None:
    _, index = registered()
    settled(index)
    with pytest.raises(EntityExistsError) as raised:
        Model.register(index, fields={}, tags=[], actor="me")
    assert str(raised.value) == (
        "Unable to register model 'iris': a model with that name already exists."
    )
    assert index.collect_events() == []


def test_a_name_entry_is_claimed_by_one_model_and_released_only_by_it() -> None:
    index = ModelName(name="iris")
    index.claim("model-1")
    with pytest.raises(EntityExistsError, match="held by model model-1"):
        index.claim("model-2")
    with pytest.raises(NotFoundError, match="does not hold the name 'iris'"):
        index.release("model-2")
    index.release("model-1")
    index.claim("model-2")
    assert names(index.collect_events()) == ["Created", "Claimed", "Released", "Claimed"]
    assert index.model_id == "model-2"


def test_deleting_releases_the_name_for_a_new_registration() -> None:
    model, index = registered()
    model.delete(index, holders=[], actor="me", reason="gone")
    assert names(index.collect_events())[-1] == "Released"
    again = Model.register(index, fields={}, tags=[], actor="me")
    assert index.model_id == str(again.id) != str(model.id)


def test_renaming_moves_the_claim_and_a_taken_name_is_refused() -> None:
    model, old = registered("iris")
    other, taken = registered("mnist")
    new = ModelName(name="flowers")
    settled(model, old, other, taken, new)
    with pytest.raises(EntityExistsError) as raised:
        model.update(rename=(old, taken), actor="me")
    assert str(raised.value) == "Unable to rename model 'iris' to 'mnist': that name is taken."
    assert model.collect_events() == [] and old.collect_events() == []
    assert model.update(rename=(old, new), actor="me")
    (updated,) = model.collect_events()
    assert updated.changes == {"name": "flowers"}  # type: ignore[attr-defined]
    assert (old.model_id, new.model_id) == (None, str(model.id))


def test_an_update_that_changes_nothing_triggers_nothing() -> None:
    model, _ = registered()
    settled(model)
    assert not model.update(fields={"license": "MIT"}, add_tags=["a"], actor="me")
    assert model.collect_events() == []
    assert model.update(fields={"license": "GPL"}, add_tags=["b"], remove_tags=["a"], actor="me")
    (updated,) = model.collect_events()
    assert updated.changes == {"license": "GPL", "tags": ["b"]}  # type: ignore[attr-defined]


def test_a_deleted_model_refuses_every_command() -> None:
    model, index = registered()
    (version,) = [model.add_version(actor="me")]
    model.delete(index, holders=[], actor="me")
    settled(model, version)
    message = f"Model 'iris' ({model.id}) was deleted."
    refused = [
        lambda: model.add_version(actor="me"),
        lambda: model.update(fields={"license": "x"}, actor="me"),
        lambda: model.promote(version, "staging", actor="me"),
        lambda: model.delete_version(version, actor="me"),
        lambda: model.update_version(version, description="x", actor="me"),
        lambda: model.delete(index, holders=[], actor="me"),
    ]
    for command in refused:
        with pytest.raises(EntityDeletedError) as raised:
            command()
        assert str(raised.value) == message
    assert model.collect_events() == [] and version.collect_events() == []


# ------------------------------------------------------------------ versions


def test_versions_are_numbered_and_a_custom_name_must_be_free() -> None:
    model, versions = model_with_versions(None, "rc", None)
    assert [(v.number, v.name) for v in versions] == [(1, "1"), (2, "rc"), (3, "3")]
    with pytest.raises(EntityExistsError) as raised:
        add(model, "rc")
    assert str(raised.value) == (
        "Unable to create model version iris (version rc): a version with the same name "
        "already exists."
    )
    assert model.collect_events() == [] and entry(model, "rc").collect_events() == []  # type: ignore[union-attr]
    assert model.last_number == 3


def test_a_custom_name_is_claimed_in_its_own_entry_not_kept_on_the_model() -> None:
    model, (_, rc) = model_with_versions(None, "rc")
    claimed = entry(model, "rc")
    assert claimed is not None and claimed.version_id == str(rc.id)
    assert model.custom_names == {} and model.stage_of == {}
    with pytest.raises(ValueError, match="needs its VersionName entry"):
        model.add_version(name="gold", actor="me")
    stranger, _ = registered("other")
    with pytest.raises(ValueError, match="needs its VersionName entry"):
        model.add_version(name="gold", name_entry=entry(stranger, "gold"), actor="me")
    assert model.collect_events() == []


def test_a_custom_name_that_looks_like_a_number_or_stage_is_refused() -> None:
    model, _ = model_with_versions()
    for bad in ("7", "production"):
        with pytest.raises(ValidationError):
            add(model, bad)
    assert model.collect_events() == []


def test_deleting_a_version_frees_its_name_but_never_its_number() -> None:
    model, (_, rc) = model_with_versions(None, "rc")
    delete(model, rc, reason="bad")
    assert names(model.collect_events()) == ["VersionDeleted"]
    assert names(rc.collect_events()) == ["Deleted"]
    assert names(entry(model, "rc").collect_events()) == ["Released"]  # type: ignore[union-attr]
    again = add(model, "rc")
    assert again.number == 3
    with pytest.raises(EntityDeletedError) as raised:
        model.delete_version(rc, actor="me")
    assert str(raised.value) == "Version 'rc' of model 'iris' was deleted."


def test_renaming_a_version_frees_the_old_name_and_refuses_a_taken_one() -> None:
    model, (rc, _) = model_with_versions("rc", "gold")
    with pytest.raises(EntityExistsError) as raised:
        rename(model, rc, "gold")
    assert str(raised.value) == "Model 'iris' already has a version named 'gold'."
    assert rename(model, rc, "best")
    assert names(model.collect_events()) == ["VersionRenamed"]
    (updated,) = rc.collect_events()
    assert updated.changes == {"name": "best"}  # type: ignore[attr-defined]
    assert names(entry(model, "rc").collect_events()) == ["Released"]  # type: ignore[union-attr]
    assert names(entry(model, "best").collect_events()) == ["Created", "Claimed"]  # type: ignore[union-attr]
    assert add(model, "rc").number == 3


def test_a_version_of_another_model_is_refused() -> None:
    model, _ = model_with_versions()
    _, (stranger,) = model_with_versions(None)
    with pytest.raises(NotFoundError):
        model.promote(stranger, "staging", actor="me")


# -------------------------------------------------------------------- stages


def test_an_occupied_exclusive_stage_needs_force_and_names_its_holder() -> None:
    model, (one, rc) = model_with_versions(None, "rc")
    assert model.promote(one, "production", actor="me")
    settled(model)
    with pytest.raises(StageOccupiedError) as raised:
        model.promote(rc, "production", displaced=one, actor="me")
    assert str(raised.value) == (
        "Model version '1' of model 'iris' is in production; promoting version 'rc' needs "
        "force=True, which moves '1' to archived."
    )
    assert (raised.value.stage, raised.value.holder) == ("production", "1")
    assert model.collect_events() == []
    assert model.holder("production") == str(one.id)


def test_a_forced_promotion_archives_the_holder_then_promotes() -> None:
    model, (one, rc) = model_with_versions(None, "rc")
    model.promote(one, "production", actor="me")
    settled(model, one)
    assert model.displaced_by(rc, "production") == str(one.id)
    model.promote(rc, "production", displaced=one, force=True, reason="better", actor="me")
    archived, promoted = model.collect_events()
    assert (archived.version_id, archived.stage, archived.previous_stage) == (  # type: ignore[attr-defined]
        str(one.id),
        "archived",
        "production",
    )
    assert archived.reason == "displaced from production by version 'rc': better"  # type: ignore[attr-defined]
    assert (promoted.version_id, promoted.stage, promoted.previous_stage) == (  # type: ignore[attr-defined]
        str(rc.id),
        "production",
        "none",
    )
    assert (promoted.displaced_version_id, promoted.displaced_version_name) == (str(one.id), "1")  # type: ignore[attr-defined]
    assert model.holder("production") == str(rc.id)
    assert (one.stage, rc.stage) == ("archived", "production")
    assert names(one.collect_events()) == names(rc.collect_events()) == ["StageSet"]


def test_a_promotion_must_be_given_the_holder_it_displaces() -> None:
    model, (one, rc, three) = model_with_versions(None, "rc", None)
    model.promote(one, "staging", actor="me")
    settled(model)
    for wrong in (None, three):
        with pytest.raises(ValueError, match="pass it as displaced"):
            model.promote(rc, "staging", displaced=wrong, force=True, actor="me")
    assert model.collect_events() == []


def test_archiving_a_version_that_holds_nothing_leaves_the_holders_alone() -> None:
    model, (one, rc) = model_with_versions(None, "rc")
    model.promote(one, "production", actor="me")
    settled(model)
    assert model.displaced_by(rc, "archived") is None
    assert model.promote(rc, "archived", actor="me")
    (moved,) = model.collect_events()
    assert (moved.stage, moved.previous_stage, moved.displaced_version_id) == (  # type: ignore[attr-defined]
        "archived",
        "none",
        None,
    )
    assert model.holder("production") == str(one.id)
    assert not model.promote(rc, "archived", actor="me")  # already there
    assert model.collect_events() == []


def test_latest_and_unknown_stages_are_refused() -> None:
    model, (one,) = model_with_versions(None)
    for bad in ("latest", "prod"):
        with pytest.raises(ValidationError):
            model.promote(one, bad, actor="me")


def test_a_deleted_version_cannot_be_promoted() -> None:
    model, (one,) = model_with_versions(None)
    delete(model, one)
    settled(model, one)
    with pytest.raises(EntityDeletedError, match="Version '1' of model 'iris' was deleted"):
        model.promote(one, "staging", actor="me")


def test_a_refused_promotion_leaves_the_rename_untriggered() -> None:
    model, (one, rc) = model_with_versions(None, "rc")
    model.promote(one, "production", actor="me")
    settled(model)
    with pytest.raises(StageOccupiedError, match="promoting version 'renamed'"):
        rename(model, rc, "renamed", add_tags=["x"], stage="production", displaced=one)
    assert model.collect_events() == [] and rc.collect_events() == []
    assert entry(model, "renamed").version_id is None  # type: ignore[union-attr]
    assert rc.name == "rc" and entry(model, "rc").version_id == str(rc.id)  # type: ignore[union-attr]


def test_update_version_renames_retags_and_promotes_in_order() -> None:
    model, (one, rc) = model_with_versions(None, "rc")
    model.promote(one, "production", actor="me")
    settled(model)
    assert rename(
        model, rc, "renamed", add_tags=["x"], stage="production", displaced=one, force=True
    )
    assert names(model.collect_events()) == ["VersionRenamed", "StageChanged", "StageChanged"]
    updated, staged = rc.collect_events()
    assert updated.changes == {"tags": ["x"], "name": "renamed"}  # type: ignore[attr-defined]
    assert staged.stage == "production"  # type: ignore[attr-defined]
    assert not model.update_version(rc, name="renamed", stage="production", actor="me")


def test_deleting_a_model_names_the_holders_of_its_exclusive_stages() -> None:
    model, (one, rc, three) = model_with_versions(None, "rc", None)
    model.promote(rc, "production", actor="me")
    model.promote(one, "staging", actor="me")
    model.promote(three, "archived", actor="me")
    settled(model)
    index = ModelName(name="iris")
    index.claim(str(model.id))
    assert model.held_stages() == {"staging": str(one.id), "production": str(rc.id)}
    with pytest.raises(ValueError, match="needs its production holder"):
        model.delete(index, holders=[one], actor="me")
    model.delete(index, holders=[rc, one], actor="me")
    (deleted,) = model.collect_events()
    assert deleted.holders == [  # type: ignore[attr-defined]
        {"stage": "staging", "version_id": str(one.id), "version_name": "1"},
        {"stage": "production", "version_id": str(rc.id), "version_name": "rc"},
    ]
    assert model.held_stages() == {}


def as_version_1(event: Any) -> Any:
    """The event as a release before ``Registered`` version 2 wrote it, read back today."""
    mapper = OrjsonMapper()
    stored = mapper.to_stored_event(event)
    state = orjson.loads(stored.state)
    assert state.pop("class_version") == 2
    del state["keeps_version_maps"]
    return mapper.to_domain_event(replace(stored, state=orjson.dumps(state)))


def legacy_model_with_versions(*version_names: str | None) -> tuple[Model, list[ModelVersion]]:
    """A model registered before versions kept their own stage and names had entries."""
    new, _ = registered()
    (registration,) = new.collect_events()
    model = as_version_1(registration).mutate(None)
    assert isinstance(model, Model) and model.keeps_version_maps
    versions = [add(model, n) for n in version_names]
    settled(model, *versions)
    return model, versions


def test_a_model_registered_before_version_2_keeps_its_maps_and_its_rules() -> None:
    model, (one, rc) = legacy_model_with_versions(None, "rc")
    assert not model.needs_name_entries and model.custom_names == {"rc": str(rc.id)}
    with pytest.raises(EntityExistsError):
        add(model, "rc")
    model.promote(one, "production", actor="me")
    model.promote(rc, "production", displaced=one, force=True, actor="me")
    assert model.stage_of == {str(one.id): "archived", str(rc.id): "production"}
    assert one.collect_events() == [] and rc.collect_events() == []  # no StageSet
    assert not model.promote(one, "archived", actor="me")  # the map says it is there
    assert rename(model, rc, "gold") and model.custom_names == {"gold": str(rc.id)}
    delete(model, one)
    (deleted,) = [e for e in model.collect_events() if type(e).__name__ == "VersionDeleted"]
    assert deleted.stage == "archived"  # type: ignore[attr-defined]
    assert model.stage_of == {str(rc.id): "production"}


def test_a_new_model_keeps_no_state_per_version() -> None:
    """What grows with the versions lives in their streams and entries, not the model's."""
    model, versions = model_with_versions(*[f"v{i}" for i in range(50)])
    for version in versions:
        model.promote(version, "archived", actor="me")
    model.promote(versions[-1], "production", actor="me")
    settled(model, *versions)
    state = Snapshot.take(model).state
    assert state["custom_names"] == {} and state["stage_of"] == {}
    assert state["exclusive_holders"] == {"production": str(versions[-1].id)}
    assert [model.stage_of_version(v) for v in versions[-2:]] == ["archived", "production"]


def test_holders_are_rebuilt_for_a_model_from_an_old_snapshot() -> None:
    """A snapshot taken before ``exclusive_holders`` existed lacks it: holder() still works."""
    model, (one, rc) = legacy_model_with_versions(None, "rc")
    model.promote(one, "production", actor="me")
    model.promote(rc, "staging", actor="me")
    settled(model)
    snapshot = Snapshot.take(copy.deepcopy(model))
    del snapshot.state["exclusive_holders"]
    del snapshot.state["_keeps_version_maps"]
    old = snapshot.mutate(None)
    assert isinstance(old, Model) and "exclusive_holders" not in vars(old)
    assert old.holder("production") == str(one.id)
    old.promote(rc, "production", displaced=one, force=True, actor="me")
    assert old.held_stages() == {"production": str(rc.id)}


# ---------------------------------------------------------------- properties

VERSION_NAMES = st.one_of(st.none(), st.sampled_from(["rc", "gold", "best"]))
STAGES = st.sampled_from(["none", "staging", "production", "archived"])


class ModelMachine(RuleBasedStateMachine):
    """Random commands on one model: after each the invariants hold, and at the end a replay
    of every event triggered rebuilds the same model."""

    legacy = False

    def __init__(self) -> None:
        super().__init__()
        if self.legacy:
            self.model, _ = legacy_model_with_versions()
            self.events: list[Any] = [as_version_1(registered()[0].collect_events()[0])]
            self.model = self.events[0].mutate(None)
        else:
            self.model, _ = registered()
            self.events = list(self.model.collect_events())
        self.versions: dict[str, ModelVersion] = {}
        self.version_events: dict[str, list[Any]] = {}
        self.numbers: list[int] = []

    def live(self) -> list[ModelVersion]:
        return [v for v in self.versions.values() if not v.deleted]

    def settle(self, *aggregates: Any) -> None:
        for aggregate in aggregates:
            events = aggregate.collect_events()
            if aggregate is self.model:
                self.events += events
            elif isinstance(aggregate, ModelVersion):
                self.version_events.setdefault(str(aggregate.id), []).extend(events)

    @rule(name=VERSION_NAMES)
    def add(self, name: str | None) -> None:
        taken = name in {v.name for v in self.live()}
        try:
            version = add(self.model, name)
        except EntityExistsError:
            assert taken
            self.settle(self.model)
            return
        assert not taken
        self.versions[str(version.id)] = version
        self.numbers.append(version.number)
        self.settle(self.model, version)

    @precondition(lambda self: self.live())
    @rule(data=st.data())
    def delete(self, data: st.DataObject) -> None:
        version = self.versions[data.draw(st.sampled_from([str(v.id) for v in self.live()]))]
        delete(self.model, version)
        self.settle(self.model, version)

    @precondition(lambda self: self.live())
    @rule(data=st.data(), name=st.sampled_from(["rc", "gold", "best"]))
    def rename(self, data: st.DataObject, name: str) -> None:
        version = self.versions[data.draw(st.sampled_from([str(v.id) for v in self.live()]))]
        taken = name != version.name and name in {v.name for v in self.live()}
        try:
            rename(self.model, version, name)
        except EntityExistsError:
            assert taken
        else:
            assert not taken
        self.settle(self.model, version)

    @precondition(lambda self: self.live())
    @rule(data=st.data(), stage=STAGES, force=st.booleans())
    def promote(self, data: st.DataObject, stage: str, force: bool) -> None:
        version = self.versions[data.draw(st.sampled_from([str(v.id) for v in self.live()]))]
        holder_id = self.model.displaced_by(version, stage)
        holder = None if holder_id is None else self.versions[holder_id]
        before = len(self.events)
        try:
            self.model.promote(version, stage, displaced=holder, force=force, actor="me")
        except StageOccupiedError:
            assert holder is not None and not force
        self.settle(self.model, version, *([holder] if holder else []))
        if holder is not None and force:
            assert [e.stage for e in self.events[before:]] == ["archived", stage]

    @invariant()
    def numbers_are_never_reused(self) -> None:
        assert self.numbers == list(range(1, len(self.numbers) + 1))
        assert self.model.last_number == len(self.numbers)

    @invariant()
    def live_names_are_unique(self) -> None:
        live_names = [v.name for v in self.live()]
        assert len(live_names) == len(set(live_names))

    @invariant()
    def holder_agrees_with_a_scan(self) -> None:
        for stage in ("staging", "production"):
            holding = [v for v in self.live() if self.model.stage_of_version(v) == stage]
            assert len(holding) <= 1
            assert self.model.holder(stage) == (str(holding[0].id) if holding else None)

    @invariant()
    def the_model_keeps_maps_only_if_registered_before_version_2(self) -> None:
        if not self.legacy:
            assert self.model.custom_names == {} and self.model.stage_of == {}

    def teardown(self) -> None:
        """A replay of every event triggered rebuilds the same model (holders included) and
        the same versions (their stages included)."""
        replayed = project_aggregate(None, copy.deepcopy(self.events))
        assert replayed == self.model
        for version_id, events in self.version_events.items():
            assert project_aggregate(None, copy.deepcopy(events)) == self.versions[version_id]


class LegacyModelMachine(ModelMachine):
    legacy = True


ModelMachine.TestCase.settings = settings(max_examples=40, stateful_step_count=20, deadline=None)
LegacyModelMachine.TestCase.settings = ModelMachine.TestCase.settings
test_model_rules_hold_for_any_sequence_of_commands = ModelMachine.TestCase
test_rules_hold_for_a_model_registered_before_version_2 = LegacyModelMachine.TestCase


TAGS = st.sampled_from(["a", "b", "c", "d"])


@given(start=st.lists(TAGS, unique=True), add=st.lists(TAGS), remove=st.lists(TAGS))
def test_tag_edits_keep_the_order_and_each_tag_once(
    start: list[str], add: list[str], remove: list[str]
) -> None:
    result = edited_tags(start, add, remove)
    assert len(result) == len(set(result))
    assert set(result) == (set(start) - set(remove)) | set(add)
    kept = [t for t in start if t not in remove]
    assert result[: len(kept)] == kept
