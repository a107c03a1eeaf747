"""Random command sequences against a plain in-memory model of the registry.

After every step: the SDK's answers match the reference, no stage has two holders, the log
folded from scratch gives tables identical to the live ones, and time travel to every
earlier position shows the stage holders the test recorded at that position.

The fold is the live rebuild (a new generation of the tables built and swapped in, which
later commands then write onto) after the first step and every few steps, and a replay into
a SQLite file after the others: the same projection handlers, at a third of the cost of
creating, indexing and swapping the live tables, which was most of this test's time.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import create_engine, func, select

from modelplane.client import Client
from modelplane.enums import ModelStages
from modelplane.exceptions import (
    EntityExistsError,
    NotFoundError,
    StageOccupiedError,
    ValidationError,
)
from modelplane.projections.tables import event_index
from modelplane.store_handle import close_all
from tests.conftest import reset_postgres, store_of
from tests.projection_tables import dump_tables

MODEL_NAMES = st.sampled_from(["iris", "mnist", "llm"])
VERSION_NAMES = st.one_of(st.none(), st.sampled_from(["1.0", "rc", "gold"]))
STAGES = st.sampled_from(["production", "staging", "production", "staging", "archived", "none"])
ALIASES = st.sampled_from(["champion", "challenger", "Champion"])
TAG_KEYS = st.sampled_from(["team", "mlflow.note"])
TAG_VALUES = st.sampled_from(["", "x", "<b>y</b>"])
EXCLUSIVE = ("staging", "production")
#: The live tables are rebuilt in place after the first step and every this many steps.
LIVE_REBUILD_EVERY = 5


@dataclass
class RefVersion:
    number: int
    name: str
    stage: str = "none"
    key_value_tags: dict[str, str] = field(default_factory=dict)


@dataclass
class RefModel:
    next_number: int = 1
    versions: dict[int, RefVersion] = field(default_factory=dict)
    #: alias -> the number of the version it names
    aliases: dict[str, int] = field(default_factory=dict)
    key_value_tags: dict[str, str] = field(default_factory=dict)


def _has_versions(machine: RegistryMachine) -> bool:
    return any(model.versions for model in machine.models.values())


def _file_tables(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    engine = create_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            return dump_tables(conn)
    finally:
        engine.dispose()


class RegistryMachine(RuleBasedStateMachine):
    reset: Callable[[], None] = staticmethod(lambda: None)
    #: Where the folds into files go (each file is removed once compared).
    scratch: Path = Path()

    def __init__(self) -> None:
        super().__init__()
        type(self).reset()
        self.client = Client()
        self.steps = 0
        self.models: dict[str, RefModel] = {}
        #: (log position, {(model name, stage): version name}) after every step
        self.timeline: list[tuple[int, dict[tuple[str, str], str]]] = []
        #: (log position, {model name: {alias: version number}} of the live models)
        self.alias_timeline: list[tuple[int, dict[str, dict[str, int]]]] = []

    # ------------------------------------------------------------------- rules

    @initialize(versions=st.integers(1, 4))
    def start_with_a_model(self, versions: int) -> None:
        self.register("iris")
        for _ in range(versions):
            self.create_version("iris", None)

    @rule(name=MODEL_NAMES)
    def register(self, name: str) -> None:
        if name in self.models:
            with pytest.raises(EntityExistsError):
                self.client.create_model(name)
        else:
            self.client.create_model(name, description=f"{name} model")
            self.models[name] = RefModel()

    @rule(name=MODEL_NAMES, version_name=VERSION_NAMES)
    def create_version_rule(self, name: str, version_name: str | None) -> None:
        self.create_version(name, version_name)

    def create_version(self, name: str, version_name: str | None) -> None:
        model = self.models.get(name)
        if model is None:
            with pytest.raises(NotFoundError):
                self.client.create_model_version(name, name=version_name)
            return
        if version_name is not None and any(
            v.name == version_name for v in model.versions.values()
        ):
            with pytest.raises(EntityExistsError):
                self.client.create_model_version(name, name=version_name)
            return
        created = self.client.create_model_version(name, name=version_name)
        expected_name = version_name or str(model.next_number)
        assert (created.number, created.name) == (model.next_number, expected_name)
        model.versions[model.next_number] = RefVersion(model.next_number, expected_name)
        model.next_number += 1

    def _pick(self, pick: int) -> tuple[str, RefModel]:
        candidates = sorted(name for name, model in self.models.items() if model.versions)
        name = candidates[pick % len(candidates)]
        return name, self.models[name]

    @precondition(_has_versions)
    @rule(pick=st.integers(0, 100), stage=STAGES, force=st.booleans())
    def promote(self, pick: int, stage: str, force: bool) -> None:
        name, model = self._pick(pick)
        version = list(model.versions.values())[pick % len(model.versions)]
        holder = next(
            (
                v
                for v in model.versions.values()
                if v.stage == stage and stage in EXCLUSIVE and v is not version
            ),
            None,
        )
        if holder is not None and not force:
            with pytest.raises(StageOccupiedError):
                self.client.update_model_version(name, version.number, stage=stage, force=force)
            return
        result = self.client.update_model_version(
            name, version.number, stage=stage, force=force, reason="test"
        )
        if holder is not None:
            holder.stage = "archived"
        version.stage = stage
        assert result.stage == stage

    @precondition(_has_versions)
    @rule(pick=st.integers(0, 100), description=st.text(max_size=5))
    def update_version(self, pick: int, description: str) -> None:
        name, model = self._pick(pick)
        version = list(model.versions.values())[pick % len(model.versions)]
        if "\x00" in description:
            with pytest.raises(ValidationError):
                self.client.update_model_version(name, version.number, description=description)
            return
        updated = self.client.update_model_version(
            name, version.number, description=description, add_tags=["t"]
        )
        assert "t" in updated.tags and updated.description == description

    @precondition(_has_versions)
    @rule(pick=st.integers(0, 100), alias=ALIASES)
    def set_alias(self, pick: int, alias: str) -> None:
        name, model = self._pick(pick)
        number = list(model.versions)[pick % len(model.versions)]
        found = self.client.set_model_version_alias(name, number, alias, reason="test")
        model.aliases[alias] = number
        assert found.number == number and alias in found.aliases

    @rule(name=MODEL_NAMES, alias=ALIASES)
    def delete_alias(self, name: str, alias: str) -> None:
        model = self.models.get(name)
        if model is None or alias not in model.aliases:
            with pytest.raises(NotFoundError):
                self.client.delete_model_version_alias(name, alias)
            return
        self.client.delete_model_version_alias(name, alias)
        del model.aliases[alias]

    @rule(name=MODEL_NAMES, key=TAG_KEYS, value=st.one_of(st.none(), TAG_VALUES))
    def model_tag(self, name: str, key: str, value: str | None) -> None:
        """Set a model's key-value tag, or delete it (``value`` None)."""
        model = self.models.get(name)
        if model is None or (value is None and key not in model.key_value_tags):
            with pytest.raises(NotFoundError):
                if value is None:
                    self.client.delete_model_tag(name, key)
                else:
                    self.client.set_model_tag(name, key, value)
            return
        if value is None:
            self.client.delete_model_tag(name, key)
            del model.key_value_tags[key]
        else:
            self.client.set_model_tag(name, key, value)
            model.key_value_tags[key] = value

    @precondition(_has_versions)
    @rule(pick=st.integers(0, 100), key=TAG_KEYS, value=st.one_of(st.none(), TAG_VALUES))
    def version_tag(self, pick: int, key: str, value: str | None) -> None:
        name, model = self._pick(pick)
        version = list(model.versions.values())[pick % len(model.versions)]
        if value is None and key not in version.key_value_tags:
            with pytest.raises(NotFoundError):
                self.client.delete_model_version_tag(name, version.number, key)
        elif value is None:
            self.client.delete_model_version_tag(name, version.number, key)
            del version.key_value_tags[key]
        else:
            self.client.set_model_version_tag(name, version.number, key, value)
            version.key_value_tags[key] = value

    @precondition(_has_versions)
    @rule(pick=st.integers(0, 100))
    def delete_version(self, pick: int) -> None:
        name, model = self._pick(pick)
        number = list(model.versions)[pick % len(model.versions)]
        found = self.client.get_model_version(name, number)
        self.client.delete_model_version(found.id)
        del model.versions[number]
        model.aliases = {a: n for a, n in model.aliases.items() if n != number}
        with pytest.raises(NotFoundError):
            self.client.delete_model_version(found.id)

    @rule(name=MODEL_NAMES, roll=st.integers(0, 3))
    def delete_model(self, name: str, roll: int) -> None:
        if roll:
            return  # deleting a model wipes its versions: keep it rarer than the other rules
        if name not in self.models:
            with pytest.raises(NotFoundError):
                self.client.delete_model(name)
            return
        self.client.delete_model(name)
        del self.models[name]

    # -------------------------------------------------------------- invariants

    def _head(self) -> int:
        with store_of(self.client).engine.connect() as conn:
            return int(conn.execute(select(func.max(event_index.c.position))).scalar() or 0)

    @invariant()
    def sdk_matches_reference(self) -> None:
        assert sorted(m.name for m in self.client.list_models(size=100)) == sorted(self.models)
        for name, model in self.models.items():
            listed = self.client.list_model_versions(name, size=100)
            assert [(v.number, v.name, v.stage.value) for v in listed] == [
                (v.number, v.name, v.stage)
                for v in sorted(model.versions.values(), key=lambda v: -v.number)
            ]
            assert [(v.aliases, v.key_value_tags) for v in listed] == [
                (sorted(a for a, n in model.aliases.items() if n == v.number), v.key_value_tags)
                for v in sorted(model.versions.values(), key=lambda v: -v.number)
            ]
            found = self.client.get_model(name)
            assert (found.aliases, found.key_value_tags) == (model.aliases, model.key_value_tags)
            for stage in EXCLUSIVE:
                holders = self.client.list_model_versions(name, stage=stage)
                assert len(holders) <= 1, f"two holders of {stage}"
                expected = [v for v in model.versions.values() if v.stage == stage]
                if expected:
                    assert (
                        self.client.get_model_version(name, ModelStages(stage)).number
                        == expected[0].number
                    )
                else:
                    with pytest.raises(NotFoundError):
                        self.client.get_model_version(name, ModelStages(stage))

    @invariant()
    def the_log_folds_to_the_live_tables(self) -> None:
        self.steps += 1
        engine = store_of(self.client).engine
        with engine.connect() as conn:
            live = dump_tables(conn)
        if self.steps % LIVE_REBUILD_EVERY == 1:
            self.client.rebuild_projections()
            with engine.connect() as conn:
                assert dump_tables(conn) == live
            return
        target = type(self).scratch / f"fold-{id(self)}-{self.steps}.db"
        self.client.rebuild_projections(into=target)
        try:
            assert _file_tables(target) == live
        finally:
            target.unlink()

    @invariant()
    def time_travel_matches_the_recorded_past(self) -> None:
        holders = {
            (name, v.stage): v.name
            for name, model in self.models.items()
            for v in model.versions.values()
            if v.stage in EXCLUSIVE
        }
        self.timeline.append((self._head(), holders))
        self.alias_timeline.append(
            (self._head(), {name: dict(model.aliases) for name, model in self.models.items()})
        )
        seen_models = {name for _, recorded in self.timeline for name, _ in recorded}
        for position, recorded in self.timeline:
            for name in seen_models:
                for stage in EXCLUSIVE:
                    expected = recorded.get((name, stage))
                    if expected is None:
                        with pytest.raises(NotFoundError):
                            self.client.get_model_version(name, ModelStages(stage), at=position)
                    else:
                        found = self.client.get_model_version(name, ModelStages(stage), at=position)
                        assert (found.name, found.stage.value) == (expected, stage)
        # which version held each alias then: one read per model and past position
        for position, live in self.alias_timeline:
            for name, aliases in live.items():
                then = self.client.list_model_aliases(name, at=position)
                assert {alias: v.number for alias, v in then.items()} == aliases


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_registry_state_machine(
    backend: str,
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Each example starts on an empty store: a fresh SQLite home, or emptied PostgreSQL.

    The reset is given to a subclass made for this test, so no state is left on
    ``RegistryMachine`` for the next test.
    """
    monkeypatch.setenv("MODELPLANE_ACTOR", "tester")
    monkeypatch.delenv("MODELPLANE_STORE_URL", raising=False)
    monkeypatch.setenv("MODELPLANE_HOME", str(tmp_path_factory.mktemp("stateful")))
    if backend == "postgres":
        url = request.getfixturevalue("pg_database")
        monkeypatch.setenv("MODELPLANE_STORE_URL", url)

        def reset() -> None:
            close_all()
            reset_postgres(url)

    else:

        def reset() -> None:
            close_all()
            monkeypatch.setenv("MODELPLANE_HOME", str(tmp_path_factory.mktemp("stateful")))

    machine = type(
        "RegistryMachineHere",
        (RegistryMachine,),
        {"reset": staticmethod(reset), "scratch": tmp_path_factory.mktemp("folds")},
    )
    try:
        run_state_machine_as_test(
            machine,
            settings=settings(
                max_examples=int(os.environ.get("MODELPLANE_STATEFUL_EXAMPLES", "25")),
                stateful_step_count=30,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            ),
        )
    finally:
        close_all()
