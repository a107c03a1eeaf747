"""The core's stateful machine (``tests/integration/test_stateful.py``), its writes sent by an
unmodified ``MlflowClient`` to a real modelplane server, on SQLite and PostgreSQL.

Rules create, rename and delete registered models; create and delete versions; move them
between stages, with and without ``archive_existing_versions``; set, move and delete aliases;
set and delete model and version tags (empty values too); and address models and versions
that do not exist. Each is checked against a reference model in plain Python, refusals
included (by MLflow's error codes). After every step:

- MLflow's reads (``get_registered_model``, ``search_model_versions``,
  ``get_model_version_by_alias``, ``search_registered_models``) answer what the reference
  holds, and no Staging, Production or alias has two holders;
- modelplane's own SDK, pointed at the same server, agrees (versions, stages, aliases, tags);

and every few steps, and once after the last example:

- time travel: the stage holders and aliases each earlier step left are what the SDK answers
  ``at`` that step's log position (by model id, so a later rename does not hide them);
- the read tables equal a rebuild of the log (``POST /api/v1/replay`` as admin, the tables
  dumped before and after, straight from the server's database).

The server serves the whole module, so each example names its models under a prefix of its
own; the rebuild compares every table, so what earlier examples wrote is checked again.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
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
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sqlalchemy import Engine, create_engine

from modelplane.backend.http import HttpBackend
from modelplane.client import Client
from modelplane.enums import ModelStages
from modelplane.exceptions import NotFoundError
from tests.http.conftest import API, TIMEOUT, bearer
from tests.projection_tables import dump_tables
from tests.servers import RunningServer

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")  # MLflow's stage APIs

#: the first model is ``iris``: it is named more often, so rules meet on one model's state
SUFFIXES = st.sampled_from(["iris", "iris", "mnist", "llm"])
#: MLflow takes a stage in any case
STAGES = st.sampled_from(["Production", "Staging", "Archived", "None", "production", "STAGING"])
ALIASES = st.sampled_from(["champion", "challenger", "Champion"])
TAG_KEYS = st.sampled_from(["team", "another key", "mlflow.note"])
TAG_VALUES = st.sampled_from(["", "x", "12345"])
TAGS = st.dictionaries(TAG_KEYS, TAG_VALUES, max_size=2)
EXCLUSIVE = ("Staging", "Production")
ORDER = ("None", "Staging", "Production", "Archived")  # latest_versions' order
#: time travel and the rebuild are checked after this many steps (and after the last example)
CHECK_EVERY = 10
MISSING = "RESOURCE_DOES_NOT_EXIST"


@contextmanager
def refused(code: str) -> Iterator[None]:
    with pytest.raises(MlflowException) as caught:
        yield
    assert caught.value.error_code == code, caught.value


def stage_of(sent: str) -> str:
    """MLflow's spelling of a stage sent in any case."""
    return {s.lower(): s for s in ORDER}[sent.lower()]


def one_of_mostly(present: list[str], pick: int, other: str) -> str:
    """One of ``present`` two times in three (when there is one), else ``other``: a deletion
    of what exists is the interesting one, and a random key rarely names it."""
    return present[pick % len(present)] if present and pick % 3 else other


@dataclass
class RefVersion:
    number: int
    stage: str = "None"
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class RefModel:
    next_number: int = 1
    versions: dict[int, RefVersion] = field(default_factory=dict)
    #: alias -> the number of the version it names
    aliases: dict[str, int] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    #: modelplane's id, read once through the SDK (time travel asks by id)
    id: uuid.UUID | None = None


#: what one step left: (log position, {model id: ({stage: number}, {alias: number})})
Snapshot = tuple[int, dict[uuid.UUID, tuple[dict[str, int], dict[str, int]]]]


def _has_versions(machine: MlflowMachine) -> bool:
    return any(model.versions for model in machine.models.values())


def _has_a_holder_and_another(machine: MlflowMachine) -> bool:
    return any(
        len(model.versions) > 1 and any(v.stage in EXCLUSIVE for v in model.versions.values())
        for model in machine.models.values()
    )


class MlflowMachine(RuleBasedStateMachine):
    server: RunningServer
    token: str
    engine: Engine

    def __init__(self) -> None:
        super().__init__()
        self.mlflow = MlflowClient(tracking_uri=self.server.url, registry_uri=self.server.url)
        self.sdk = Client(HttpBackend(self.server.url, self.token))
        self.prefix = f"sm{uuid.uuid4().hex[:8]}x"
        self.models: dict[str, RefModel] = {}
        self.steps = 0
        self.position = self._head(0)
        self.snapshots: list[Snapshot] = []

    def teardown(self) -> None:
        self.sdk.backend.close()

    def name(self, suffix: str) -> str:
        return self.prefix + suffix

    def _pick(self, pick: int) -> tuple[str, RefModel, RefVersion]:
        names = sorted(name for name, model in self.models.items() if model.versions)
        name = names[pick % len(names)]
        versions = list(self.models[name].versions.values())
        return name, self.models[name], versions[pick % len(versions)]

    # ------------------------------------------------------------ registered models

    @initialize(
        versions=st.integers(1, 4),
        tags=TAGS,
        version_tags=TAGS,
        stage=st.sampled_from(["None", "Staging", "Production"]),
        alias=st.one_of(st.none(), ALIASES),
    )
    def start_with_a_model(
        self,
        versions: int,
        tags: dict[str, str],
        version_tags: dict[str, str],
        stage: str,
        alias: str | None,
    ) -> None:
        """A model with tags, versions, and perhaps a stage holder and an alias: what the
        rules then do meets a state worth changing sooner than from an empty registry."""
        self.create_model("iris", tags)
        for n in range(versions):
            self.create_version("iris", {} if n else version_tags)
        model = self.models[self.name("iris")]
        self.transition_to(self.name("iris"), model.versions[versions], stage, False)
        if alias is not None:
            self.set_alias(0, alias)

    @rule(suffix=SUFFIXES, tags=TAGS)
    def create_model(self, suffix: str, tags: dict[str, str]) -> None:
        name = self.name(suffix)
        if name in self.models:
            with refused("RESOURCE_ALREADY_EXISTS"):
                self.mlflow.create_registered_model(name, tags=tags)
            return
        created = self.mlflow.create_registered_model(name, tags=tags)
        assert (created.name, created.tags) == (name, tags)
        self.models[name] = RefModel(tags=dict(tags))

    @rule(old=SUFFIXES, new=st.sampled_from(["mnist", "llm", "iris"]), pick=st.integers(0, 5))
    def rename_model(self, old: str, new: str, pick: int) -> None:
        """Rename a model that exists (mostly), or one that does not (refused)."""
        old_name = one_of_mostly(sorted(self.models), pick, self.name(old))
        new_name = self.name(new)
        if old_name == new_name:
            return
        if old_name not in self.models:
            with refused(MISSING):
                self.mlflow.rename_registered_model(old_name, new_name)
        elif new_name in self.models:
            with refused("RESOURCE_ALREADY_EXISTS"):
                self.mlflow.rename_registered_model(old_name, new_name)
        else:
            self.mlflow.rename_registered_model(old_name, new_name)
            self.models[new_name] = self.models.pop(old_name)

    @rule(suffix=SUFFIXES, roll=st.integers(0, 2))
    def delete_model(self, suffix: str, roll: int) -> None:
        if roll:
            return  # a deletion wipes a model's versions: rarer than the other rules
        name = self.name(suffix)
        if name not in self.models:
            with refused(MISSING):
                self.mlflow.delete_registered_model(name)
            return
        self.mlflow.delete_registered_model(name)
        del self.models[name]

    @rule(suffix=SUFFIXES, key=TAG_KEYS, value=TAG_VALUES)
    def set_model_tag(self, suffix: str, key: str, value: str) -> None:
        name = self.name(suffix)
        model = self.models.get(name)
        if model is None:
            with refused(MISSING):
                self.mlflow.set_registered_model_tag(name, key, value)
            return
        self.mlflow.set_registered_model_tag(name, key, value)
        model.tags[key] = value

    @rule(suffix=SUFFIXES, key=TAG_KEYS, pick=st.integers(0, 5))
    def delete_model_tag(self, suffix: str, key: str, pick: int) -> None:
        """Delete a tag the model has (mostly), or one it has not (silent, as in MLflow)."""
        name = self.name(suffix)
        model = self.models.get(name)
        if model is None:
            with refused(MISSING):
                self.mlflow.delete_registered_model_tag(name, key)
            return
        key = one_of_mostly(sorted(model.tags), pick, key)
        self.mlflow.delete_registered_model_tag(name, key)
        model.tags.pop(key, None)

    # ------------------------------------------------------------------- versions

    @rule(suffix=SUFFIXES, tags=TAGS)
    def create_version_rule(self, suffix: str, tags: dict[str, str]) -> None:
        self.create_version(suffix, tags)

    def create_version(self, suffix: str, tags: dict[str, str]) -> None:
        name = self.name(suffix)
        model = self.models.get(name)
        if model is None:
            with refused(MISSING):
                self.mlflow.create_model_version(name, "s3://b/m", tags=tags)
            return
        created = self.mlflow.create_model_version(name, "s3://b/m", "run", tags=tags)
        assert (created.version, created.current_stage, created.tags) == (
            str(model.next_number),
            "None",
            tags,
        )
        model.versions[model.next_number] = RefVersion(model.next_number, tags=dict(tags))
        model.next_number += 1

    @precondition(_has_versions)
    @rule(pick=st.integers(0, 100), held=st.booleans())
    def delete_version(self, pick: int, held: bool) -> None:
        """Delete a version, with ``held`` one that holds an alias or a stage if any does
        (what it holds must go with it)."""
        name, model, version = self._pick(pick)
        holding = [
            (n, v)
            for n, m in sorted(self.models.items())
            for v in m.versions.values()
            if v.stage in EXCLUSIVE or v.number in m.aliases.values()
        ]
        if held and holding:
            name, version = holding[pick % len(holding)]
            model = self.models[name]
        self.mlflow.delete_model_version(name, str(version.number))
        del model.versions[version.number]
        model.aliases = {a: n for a, n in model.aliases.items() if n != version.number}

    @precondition(_has_versions)
    @rule(pick=st.integers(0, 100), sent=STAGES, archive=st.booleans())
    def transition(self, pick: int, sent: str, archive: bool) -> None:
        name, _, version = self._pick(pick)
        self.transition_to(name, version, sent, archive)

    def transition_to(self, name: str, version: RefVersion, sent: str, archive: bool) -> None:
        model = self.models[name]
        stage = stage_of(sent)
        number = str(version.number)
        if archive and stage not in EXCLUSIVE:
            with refused("INVALID_PARAMETER_VALUE"):
                self.mlflow.transition_model_version_stage(name, number, sent, archive)
            return
        holder = next(
            (v for v in model.versions.values() if v.stage == stage and v is not version), None
        )
        if stage in EXCLUSIVE and holder is not None and not archive:
            with refused("RESOURCE_CONFLICT"):
                self.mlflow.transition_model_version_stage(name, number, sent, archive)
            return
        moved = self.mlflow.transition_model_version_stage(name, number, sent, archive)
        assert (moved.version, moved.current_stage) == (number, stage)
        if stage in EXCLUSIVE and holder is not None:
            holder.stage = "Archived"
        version.stage = stage

    @precondition(_has_a_holder_and_another)
    @rule(pick=st.integers(0, 100), archive=st.booleans())
    def move_into_a_held_stage(self, pick: int, archive: bool) -> None:
        """A version sent to the Staging or Production another version holds: refused, or
        with ``archive_existing_versions`` the holder archived (random picks rarely meet)."""
        held = [
            (name, v)
            for name, model in sorted(self.models.items())
            for v in model.versions.values()
            if v.stage in EXCLUSIVE and len(model.versions) > 1
        ]
        name, holder = held[pick % len(held)]
        others = [v for v in self.models[name].versions.values() if v is not holder]
        mover = others[pick % len(others)]
        self.transition_to(name, mover, holder.stage, archive)

    @precondition(_has_versions)
    @rule(pick=st.integers(0, 100), key=TAG_KEYS, value=TAG_VALUES)
    def set_version_tag(self, pick: int, key: str, value: str) -> None:
        name, _, version = self._pick(pick)
        self.mlflow.set_model_version_tag(name, str(version.number), key, value)
        version.tags[key] = value

    @precondition(_has_versions)
    @rule(pick=st.integers(0, 100), key=TAG_KEYS)
    def delete_version_tag(self, pick: int, key: str) -> None:
        name, _, version = self._pick(pick)
        key = one_of_mostly(sorted(version.tags), pick, key)
        self.mlflow.delete_model_version_tag(name, str(version.number), key)
        version.tags.pop(key, None)

    @rule(suffix=SUFFIXES, gone=st.integers(0, 3), call=st.integers(0, 4))
    def address_a_missing_version(self, suffix: str, gone: int, call: int) -> None:
        """A number no live version has (never made, or deleted): every call is refused."""
        name = self.name(suffix)
        model = self.models.get(name)
        last = 1 if model is None else model.next_number  # never made yet
        free = [n for n in range(1, last + 1) if model is None or n not in model.versions]
        number = str(free[gone % len(free)])
        calls = (
            lambda: self.mlflow.get_model_version(name, number),
            lambda: self.mlflow.set_registered_model_alias(name, "champion", number),
            lambda: self.mlflow.transition_model_version_stage(name, number, "Staging"),
            lambda: self.mlflow.set_model_version_tag(name, number, "team", "x"),
            lambda: self.mlflow.delete_model_version(name, number),
        )
        with refused(MISSING):
            calls[call]()

    # -------------------------------------------------------------------- aliases

    @precondition(_has_versions)
    @rule(pick=st.integers(0, 100), alias=ALIASES)
    def set_alias(self, pick: int, alias: str) -> None:
        """Set an alias, or move it (a set to its own holder changes nothing)."""
        name, model, version = self._pick(pick)
        self.mlflow.set_registered_model_alias(name, alias, str(version.number))
        model.aliases[alias] = version.number

    @rule(suffix=SUFFIXES, alias=ALIASES, pick=st.integers(0, 5))
    def delete_alias(self, suffix: str, alias: str, pick: int) -> None:
        """Drop an alias the model has (mostly), or one no version holds (silent), or one of
        a model that is gone (refused)."""
        name = self.name(suffix)
        model = self.models.get(name)
        if model is None:
            with refused(MISSING):
                self.mlflow.delete_registered_model_alias(name, alias)
            return
        alias = one_of_mostly(sorted(model.aliases), pick, alias)
        self.mlflow.delete_registered_model_alias(name, alias)
        model.aliases.pop(alias, None)

    # ----------------------------------------------------------------- invariants

    @invariant()
    def after_every_step(self) -> None:
        """In this order: the SDK's check notes each model's id, which time travel asks by."""
        self.mlflow_reads_match_the_reference()
        self.the_sdk_agrees()
        self.steps += 1
        if self.steps % CHECK_EVERY == 0:
            self.the_past_and_the_rebuild()

    def mlflow_reads_match_the_reference(self) -> None:
        found = self.mlflow.search_registered_models(f"name LIKE '{self.prefix}%'")
        assert sorted(m.name for m in found) == sorted(self.models)
        for name, model in self.models.items():
            got = self.mlflow.get_registered_model(name)
            expected_aliases = {alias: str(n) for alias, n in model.aliases.items()}
            assert (got.name, got.tags, got.aliases) == (name, model.tags, expected_aliases)
            newest = {
                v.stage: v.number for v in sorted(model.versions.values(), key=lambda v: v.number)
            }
            assert [(v.current_stage, v.version) for v in got.latest_versions] == [
                (stage, str(newest[stage])) for stage in ORDER if stage in newest
            ]
            versions = self.mlflow.search_model_versions(f"name = '{name}'")
            assert sorted(
                (int(v.version), v.current_stage, v.tags, sorted(v.aliases)) for v in versions
            ) == [
                (n, v.stage, v.tags, sorted(a for a, m in model.aliases.items() if m == n))
                for n, v in sorted(model.versions.items())
            ]
            for stage in EXCLUSIVE:
                holders = [v.version for v in versions if v.current_stage == stage]
                assert len(holders) <= 1, f"two holders of {stage}: {holders}"
            held = [alias for v in versions for alias in v.aliases]
            assert len(held) == len(set(held)), f"an alias with two holders: {held}"
            for alias, number in model.aliases.items():
                by_alias = self.mlflow.get_model_version_by_alias(name, alias)
                assert (by_alias.name, by_alias.version) == (name, str(number))

    def the_sdk_agrees(self) -> None:
        for name, model in self.models.items():
            found = self.sdk.get_model(name)
            assert (found.aliases, found.key_value_tags) == (model.aliases, model.tags)
            if model.id is None:
                model.id = found.id
            assert found.id == model.id  # a rename keeps the model
            listed = self.sdk.list_model_versions(name, size=100)
            assert [(v.number, v.stage.value, v.aliases, v.key_value_tags) for v in listed] == [
                (n, v.stage.lower(), sorted(a for a, m in model.aliases.items() if m == n), v.tags)
                for n, v in sorted(model.versions.items(), reverse=True)
            ]
        self._record()

    def _head(self, after: int) -> int:
        """The log's last position, read from ``after`` on through the SDK."""
        while True:
            events = self.sdk.list_events(after=after, limit=1000)
            if not events:
                return after
            after = events[-1].position

    def _record(self) -> None:
        self.position = self._head(self.position)
        state = {
            model.id: (
                {v.stage: n for n, v in model.versions.items() if v.stage in EXCLUSIVE},
                dict(model.aliases),
            )
            for model in self.models.values()
            if model.id is not None
        }
        self.snapshots.append((self.position, state))

    def the_past_and_the_rebuild(self) -> None:
        live = {model.id for model in self.models.values()}
        for position, state in self.snapshots:
            for model_id, (stages, aliases) in state.items():
                if model_id not in live:
                    continue  # deleted since: its id names nothing to ask about
                for stage in EXCLUSIVE:
                    wanted = ModelStages(stage.lower())
                    if stage in stages:
                        then = self.sdk.get_model_version(model_id, wanted, at=position)
                        assert then.number == stages[stage], (position, stage)
                    else:
                        with pytest.raises(NotFoundError):
                            self.sdk.get_model_version(model_id, wanted, at=position)
                then_aliases = self.sdk.list_model_aliases(model_id, at=position)
                assert {a: v.number for a, v in then_aliases.items()} == aliases, position
        self.snapshots.clear()
        assert_rebuild_equals_live(self.server, self.engine)


def assert_rebuild_equals_live(server: RunningServer, engine: Engine) -> None:
    """The read tables, then ``POST /replay`` as admin, then the tables again: the same."""
    with engine.connect() as conn:
        live = dump_tables(conn)
    response = httpx.post(
        f"{server.url}{API}/replay", json={}, headers=bearer(server.admin_token), timeout=TIMEOUT
    )
    assert response.status_code == 200, response.text
    with engine.connect() as conn:
        assert dump_tables(conn) == live


@pytest.fixture(scope="module")
def store_engine(mlflow_server: RunningServer) -> Iterator[Engine]:
    """The server's own database, read straight (SQLite: the file under its home)."""
    url = mlflow_server.store_url or f"sqlite:///{mlflow_server.home / 'modelplane.db'}"
    engine = create_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()


def test_mlflow_state_machine(
    mlflow_server: RunningServer,
    token: str,
    store_engine: Engine,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # a 5xx fails the step at once
    attributes: dict[str, Any] = {
        "server": mlflow_server,
        "token": token,
        "engine": store_engine,
    }
    run_state_machine_as_test(
        type("MlflowMachineHere", (MlflowMachine,), attributes),
        settings=settings(
            max_examples=int(os.environ.get("MODELPLANE_STATEFUL_EXAMPLES", "20")),
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )
    assert_rebuild_equals_live(mlflow_server, store_engine)  # the last steps of the last example
