"""Random sequences of writes over HTTP, with retries and reconnects, against a reference.

Every write carries an ``Idempotency-Key``. Besides the writes themselves, the machine
re-sends an earlier write with its key (the server must answer exactly what it answered the
first time and append nothing, however much has changed since), re-sends a key with another
body (422, nothing appended), and drops its connection (two workers: the next request may
land on the other process). After every step the server's versions and stages equal the
reference's, and the log grew by exactly what the fresh, accepted writes appended: a retry
applied twice shows as a version too many, a stage moved back, or events the reference did
not expect.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
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

from tests.http.conftest import API, TIMEOUT, bearer, make_token, started
from tests.servers import RunningServer

EXCLUSIVE = ("staging", "production")
STAGES = st.sampled_from(["production", "staging", "archived", "production", "staging"])
#: events a fresh write appends (a promotion depends on what it displaces, see ``promote``)
CREATE_MODEL_EVENTS = 2  # Model.Registered, ModelName claimed
CREATE_VERSION_EVENTS = 2  # Model.VersionAdded, ModelVersion.Created
DELETE_VERSION_EVENTS = 2  # Model.VersionDeleted, ModelVersion.Deleted


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def two_workers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    with started(tmp_path_factory, request.param, workers=2) as running:
        yield running


@dataclass
class RefVersion:
    id: str
    number: int
    stage: str = "none"
    deleted: bool = False


@dataclass
class Sent:
    """A write as it went out, and the answer it got the first time."""

    method: str
    path: str
    body: dict[str, Any] | None
    key: str
    status: int
    answer: bytes


@dataclass
class Reference:
    versions: list[RefVersion] = field(default_factory=list)

    def live(self) -> list[RefVersion]:
        return [v for v in self.versions if not v.deleted]

    def holder(self, stage: str) -> RefVersion | None:
        return next((v for v in self.live() if v.stage == stage), None)


class HttpMachine(RuleBasedStateMachine):
    server: RunningServer
    token: str

    def __init__(self) -> None:
        super().__init__()
        self.http = self._connect()
        self.model = f"m-{uuid.uuid4().hex[:8]}"
        self.ref = Reference()
        self.sent: list[Sent] = []
        #: the log position last checked, and how many events fresh writes appended since
        self.position = 0
        self.appended = 0

    def _connect(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.server.url + API, headers=bearer(self.token), timeout=TIMEOUT
        )

    def teardown(self) -> None:
        self.http.close()

    def _write(
        self, method: str, path: str, body: dict[str, Any] | None, key: str | None = None
    ) -> httpx.Response:
        key = key or uuid.uuid4().hex
        response = self.http.request(
            method, path, json=body, headers={"Idempotency-Key": key}
        )
        assert response.status_code < 500, response.text
        self.sent.append(Sent(method, path, body, key, response.status_code, response.content))
        return response

    # ------------------------------------------------------------------ writes

    @initialize()
    def create_model(self) -> None:
        response = self._write("POST", "/models", {"name": self.model})
        assert response.status_code == 201, response.text
        self.position = self._new_events()[-1]["position"]

    @rule()
    def create_version(self) -> None:
        response = self._write("POST", "/model_versions", {"model": self.model})
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["number"] == len(self.ref.versions) + 1, body
        self.ref.versions.append(RefVersion(body["id"], body["number"]))
        self.appended += CREATE_VERSION_EVENTS

    @precondition(lambda self: bool(self.ref.live()))
    @rule(
        pick=st.integers(0, 50),
        stage=STAGES,
        force=st.booleans(),
        expect=st.one_of(st.none(), st.just("holder"), st.just("none"), st.integers(0, 50)),
    )
    def promote(self, pick: int, stage: str, force: bool, expect: object) -> None:
        live = self.ref.live()
        version = live[pick % len(live)]
        body: dict[str, Any] = {"stage": stage, "force": force}
        holder = self.ref.holder(stage) if stage in EXCLUSIVE else None
        expected: RefVersion | str | None = "unset"
        if stage in EXCLUSIVE and expect is not None:
            if expect == "holder":
                expected = holder
            elif expect == "none":
                expected = None
            else:
                assert isinstance(expect, int)
                expected = live[expect % len(live)]
            body["expected_holder"] = "none" if expected is None else expected.id
        response = self._write("PUT", f"/model_versions/{version.id}", body)

        if expected != "unset" and expected is not holder:
            assert response.status_code == 412, response.text
            return
        if holder is not None and holder is not version and not force:
            assert response.status_code == 409, response.text
            return
        assert response.status_code == 200, response.text
        assert response.json()["stage"] == stage
        if version.stage == stage:
            return  # already so: nothing appended
        appended = 2  # Model.StageChanged, ModelVersion.StageSet
        if holder is not None and holder is not version:
            holder.stage = "archived"
            appended += 2  # the same pair for the displaced holder
        version.stage = stage
        self.appended += appended

    @precondition(lambda self: bool(self.ref.live()))
    @rule(pick=st.integers(0, 50))
    def delete_version(self, pick: int) -> None:
        live = self.ref.live()
        version = live[pick % len(live)]
        response = self._write("DELETE", f"/model_versions/{version.id}", None)
        assert response.status_code == 204, response.text
        version.deleted = True
        self.appended += DELETE_VERSION_EVENTS

    # --------------------------------------------------------- retries and faults

    @precondition(lambda self: bool(self.sent))
    @rule(pick=st.integers(0, 200))
    def retry(self, pick: int) -> None:
        """A retry of any earlier write gets its first answer, whatever happened since."""
        first = self.sent[pick % len(self.sent)]
        response = self.http.request(
            first.method, first.path, json=first.body, headers={"Idempotency-Key": first.key}
        )
        assert (response.status_code, response.content) == (first.status, first.answer)
        if 200 <= first.status < 300:  # refusals are not kept: a retry runs (and refuses) again
            assert response.headers.get("idempotent-replayed") == "true"

    @precondition(lambda self: bool(self.sent))
    @rule(pick=st.integers(0, 200))
    def reuse_key_for_another_body(self, pick: int) -> None:
        first = self.sent[pick % len(self.sent)]
        other = {**(first.body or {}), "description": "not the first request"}
        response = self.http.request(
            first.method, first.path, json=other, headers={"Idempotency-Key": first.key}
        )
        assert response.status_code == 422, response.text
        assert response.json()["error"]["type"] == "IdempotencyKeyReusedError"

    @rule()
    def reconnect(self) -> None:
        self.http.close()
        self.http = self._connect()

    # -------------------------------------------------------------- invariants

    @invariant()
    def server_matches_reference(self) -> None:
        if not self.sent:
            return
        response = self.http.get(f"/models/{self.model}/model_versions", params={"size": 500})
        assert response.status_code == 200, response.text
        found = {item["number"]: item["stage"] for item in response.json()["items"]}
        assert found == {v.number: v.stage for v in self.ref.live()}

    def _new_events(self) -> list[dict[str, Any]]:
        response = self.http.get("/events", params={"after": self.position, "limit": 1000})
        assert response.status_code == 200, response.text
        return list(response.json())

    @invariant()
    def the_log_grew_by_the_fresh_writes_alone(self) -> None:
        if not self.sent:
            return
        new = self._new_events()
        assert len(new) == self.appended, [e["type"] for e in new]
        if new:
            self.position = new[-1]["position"]
        self.appended = 0


def test_http_state_machine(two_workers: RunningServer) -> None:
    machine = type(
        "Machine",
        (HttpMachine,),
        {"server": two_workers, "token": make_token(two_workers, "write")},
    )
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=12,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
