"""Durable webhooks against real server processes and a real receiver on loopback.

The receiver is an HTTP server in this test process: it records every request (path,
headers, raw body, arrival), can be told to fail, redirect, hang or hold the next requests
of a path, and counts the requests of a path in flight at once. A receiver checks a delivery
as any would: the HMAC recomputed from its own copy of the secret, the timestamp header and
the raw body.

Servers run with small timeouts, leases and backoffs (``FAST``), so a retry, a timeout and a
takeover after a crash take seconds. Waits poll for an outcome up to a bound that only a
broken deliverer reaches; nothing asserts how long a step took.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select

from modelplane.backend.http import HttpBackend
from modelplane.client import Client
from modelplane.webhooks.tables import secrets
from tests.conftest import create_database, drop_database
from tests.servers import RunningServer, running_server

from .conftest import assert_error, call, log_length, make_token, started

#: small enough that retries, timeouts and takeovers happen within seconds
FAST = {
    "MODELPLANE_WEBHOOK_TIMEOUT_SECONDS": "1",
    "MODELPLANE_WEBHOOK_LEASE_SECONDS": "3",
    "MODELPLANE_WEBHOOK_BACKOFF_SECONDS": "0.05",
    "MODELPLANE_WEBHOOK_BACKOFF_MAX_SECONDS": "0.4",
    "MODELPLANE_WEBHOOK_POLL_SECONDS": "0.1",
}
#: how long a wait for deliveries may take before the deliverer is called broken
WAIT_SECONDS = 60.0


# ------------------------------------------------------------------ the receiver


@dataclass(frozen=True)
class Arrival:
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    at: float
    #: the status it was answered with, None if it was held past the deliverer's timeout
    answered: int | None

    @property
    def position(self) -> int:
        return int(json.loads(self.body)["position"])

    @property
    def delivery(self) -> str:
        return self.headers["modelplane-delivery"]


class Receiver:
    """A loopback HTTP server recording what it is sent, with a plan per path: the next
    requests of a path are answered by the plan's steps in turn, then 200."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._arrivals: list[Arrival] = []
        self._plans: dict[str, list[tuple[str, Any]]] = {}
        self._in_flight: dict[str, int] = {}
        self.most_in_flight: dict[str, int] = {}
        #: seconds a path takes to answer (so requests in flight together would overlap)
        self.delay: dict[str, float] = {}
        self.release = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                receiver._serve(self)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def plan(self, path: str, *steps: tuple[str, Any]) -> None:
        """``("fail", status)``, ``("redirect", location)``, ``("hang", seconds)`` (answer
        200 after that long: past the deliverer's timeout), ``("hold", None)`` (answer only
        once ``release`` is set)."""
        with self._lock:
            self._plans.setdefault(path, []).extend(steps)

    def arrivals(self, path: str) -> list[Arrival]:
        with self._lock:
            return [a for a in self._arrivals if a.path == path]

    def delivered(self, path: str, positions: list[int]) -> bool:
        """Whether every one of ``positions`` was acknowledged on ``path``."""
        return {a.position for a in self.acknowledged(path)} >= set(positions)

    def in_flight(self, path: str) -> int:
        with self._lock:
            return self._in_flight.get(path, 0)

    def acknowledged(self, path: str) -> list[Arrival]:
        return [a for a in self.arrivals(path) if a.answered is not None and a.answered < 300]

    def close(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()

    def _serve(self, request: BaseHTTPRequestHandler) -> None:
        path = request.path
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length)
        headers = {key.lower(): value for key, value in request.headers.items()}
        arrived = time.time()
        with self._lock:
            steps = self._plans.get(path)
            step: tuple[str, Any] = steps.pop(0) if steps else ("ok", None)
            self._in_flight[path] = self._in_flight.get(path, 0) + 1
            self.most_in_flight[path] = max(self.most_in_flight.get(path, 0), self._in_flight[path])
        status: int | None = 200
        location = None
        try:
            time.sleep(self.delay.get(path, 0.0))
            kind, value = step
            if kind == "fail":
                status = int(value)
            elif kind == "redirect":
                status, location = 302, str(value)
            elif kind == "hang":
                time.sleep(float(value))
                status = None
            elif kind == "hold":
                self.release.wait(120)
                status = None
            with contextlib.suppress(OSError):
                request.send_response(status or 200)
                if location is not None:
                    request.send_header("Location", location)
                request.send_header("Content-Length", "2")
                request.end_headers()
                request.wfile.write(b"ok")
        finally:
            with self._lock:
                self._in_flight[path] -= 1
                self._arrivals.append(Arrival(path, headers, body, arrived, status))


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    found = Receiver()
    yield found
    found.close()


def fresh(path: str) -> str:
    """A path of its own for one test (the receiver serves every test of the module)."""
    return f"{path}-{uuid.uuid4().hex[:8]}"


def wait_until(what: str, done: Callable[[], bool], seconds: float = WAIT_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not done():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {seconds:.0f} s: {what}")
        time.sleep(0.05)


# ------------------------------------------------------------------ the servers


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def hooked(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    with started(tmp_path_factory, request.param, extra_env=FAST) as server:
        yield server


def register(server: RunningServer, url: str, **body: Any) -> dict[str, Any]:
    response = call(server, "POST", "/webhooks", server.admin_token, json={"url": url, **body})
    assert response.status_code == 201, response.text
    return dict(response.json())


def log_events(server: RunningServer, after: int = 0) -> list[dict[str, Any]]:
    response = call(
        server, "GET", "/events", server.admin_token, params={"after": after, "limit": 10_000}
    )
    assert response.status_code == 200, response.text
    return list(response.json())


def registered_at(server: RunningServer, webhook_id: str) -> int:
    """The log position of the webhook's registration: it is sent what comes after."""
    (found,) = [
        e
        for e in log_events(server)
        if e["type"] == "Webhook.Registered" and e["originator_id"] == webhook_id
    ]
    return int(found["position"])


def make_model(server: RunningServer, name: str, versions: int) -> list[str]:
    """A model with ``versions`` versions (each version appends two events)."""
    token = server.admin_token
    assert call(server, "POST", "/models", token, json={"name": name}).status_code == 201
    ids = []
    for _ in range(versions):
        created = call(server, "POST", "/model_versions", token, json={"model": name})
        assert created.status_code == 201, created.text
        ids.append(str(created.json()["id"]))
    return ids


def move(server: RunningServer, version_id: str, stage: str) -> None:
    body = {"stage": stage, "force": True}
    response = call(server, "PUT", f"/model_versions/{version_id}", server.admin_token, json=body)
    assert response.status_code == 200, response.text


def deliveries(server: RunningServer, webhook_id: str, limit: int = 1000) -> list[dict[str, Any]]:
    response = call(
        server,
        "GET",
        f"/webhooks/{webhook_id}/deliveries",
        server.admin_token,
        params={"limit": limit},
    )
    assert response.status_code == 200, response.text
    return list(response.json())


def signed_by(secret: str, arrival: Arrival) -> bool:
    """What a receiver checks: HMAC-SHA256 over ``<timestamp>.<raw body>`` with its secret."""
    message = arrival.headers["modelplane-timestamp"].encode() + b"." + arrival.body
    expected = "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, arrival.headers["modelplane-signature"])


def in_log_order(arrivals: list[Arrival]) -> bool:
    """Positions never go back (a repeat is the same event sent again)."""
    positions = [a.position for a in arrivals]
    return positions == sorted(positions)


def store_url(server: RunningServer) -> str:
    return server.store_url or f"sqlite:///{server.home / 'modelplane.db'}"


def secret_rows(server: RunningServer) -> int:
    engine = create_engine(store_url(server))
    try:
        with engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(secrets)).scalar() or 0)
    finally:
        engine.dispose()


def cli(server: RunningServer, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MODELPLANE_")}
    env.update(server.env(), COLUMNS="250", NO_COLOR="1", TERM="dumb")
    env["XDG_CONFIG_HOME"] = str(server.home / "cli-config")
    result = subprocess.run(
        [sys.executable, "-m", "modelplane", *args],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result


# ------------------------------------------------------------------ registration


def test_registering_answers_a_generated_secret_once_and_logs_only_its_digest(
    hooked: RunningServer, receiver: Receiver
) -> None:
    created = register(hooked, receiver.url("/reg"), events=["Model.StageChanged"])
    assert set(created) >= {"id", "url", "events", "model", "created", "created_by", "secret"}
    assert (created["url"], created["events"], created["model"]) == (
        receiver.url("/reg"),
        ["Model.StageChanged"],
        None,
    )
    secret = created["secret"]
    assert isinstance(secret, str) and len(secret) >= 43
    shown = call(hooked, "GET", f"/webhooks/{created['id']}", hooked.admin_token)
    assert shown.status_code == 200 and "secret" not in shown.json()
    assert secret not in call(hooked, "GET", "/webhooks", hooked.admin_token).text
    raw_log = call(hooked, "GET", "/events", hooked.admin_token, params={"limit": 10_000}).text
    assert secret not in raw_log
    (logged,) = [e for e in log_events(hooked) if e["originator_id"] == created["id"]]
    assert logged["type"] == "Webhook.Registered"
    assert logged["payload"]["secret_sha256"] == hashlib.sha256(secret.encode()).hexdigest()

    chosen = register(hooked, receiver.url("/reg"), secret="a-secret-the-receiver-chose")
    assert "secret" not in chosen and chosen["events"] == ["*"]
    listed = call(hooked, "GET", "/webhooks", hooked.admin_token).json()
    assert [h["id"] for h in listed][:2] == [chosen["id"], created["id"]]  # newest first


def test_a_keyed_registration_sent_again_registers_one_webhook(
    hooked: RunningServer, receiver: Receiver
) -> None:
    head = log_length(hooked)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = {"url": receiver.url("/keyed")}
    first, again = (
        call(hooked, "POST", "/webhooks", hooked.admin_token, json=body, headers=key)
        for _ in range(2)
    )
    assert first.status_code == again.status_code == 201, (first.text, again.text)
    assert again.content == first.content  # the same id, and the generated secret again
    assert again.headers["idempotent-replayed"] == "true"
    assert log_length(hooked) == head + 1
    removal = {"Idempotency-Key": uuid.uuid4().hex}
    gone = [
        call(hooked, "DELETE", f"/webhooks/{first.json()['id']}", hooked.admin_token, headers=k)
        for k in (removal, removal)
    ]
    assert [r.status_code for r in gone] == [204, 204], [r.text for r in gone]
    assert log_length(hooked) == head + 2


def test_the_sdk_and_the_cli_register_list_and_remove(
    hooked: RunningServer, receiver: Receiver
) -> None:
    client = Client(HttpBackend(hooked.url, hooked.admin_token))
    made = client.create_webhook(receiver.url("/sdk"), events=["Model.Deleted"], model="sdk-m")
    assert made.secret is not None and made.model == "sdk-m" and made.events == ["Model.Deleted"]
    assert made.id in {h.id for h in client.list_webhooks()}
    assert client.get_webhook(made.id).url == receiver.url("/sdk")

    added = cli(
        hooked,
        "webhook",
        "add",
        receiver.url("/cli"),
        "--event",
        "Model.Registered",
        "--event",
        "Model.Deleted",
        "--secret",
        "cli-chosen-secret-123",
    )
    (hook_id,) = added.stdout.split()  # the id alone: no secret was generated
    listed = cli(hooked, "webhook", "list", "--json")
    (row,) = [h for h in json.loads(listed.stdout) if h["id"] == hook_id]
    assert row["events"] == ["Model.Registered", "Model.Deleted"]
    assert hook_id in cli(hooked, "webhook", "list").stdout
    generated = cli(hooked, "webhook", "add", receiver.url("/cli2")).stdout.split()
    assert len(generated) == 2 and len(generated[1]) == 43  # the id, then the secret

    cli(hooked, "webhook", "remove", hook_id, "--reason", "done")
    client.delete_webhook(made.id, reason="done too")
    for removed in (client.get_webhook(hook_id), client.get_webhook(made.id)):
        assert removed.removed is not None and removed.removed_by == "admin"
    assert client.get_webhook(hook_id).removed_reason == "done"


def test_only_the_admin_role_may_register_list_or_remove(
    hooked: RunningServer, receiver: Receiver
) -> None:
    hook = register(hooked, receiver.url("/roles"))
    before, rows = log_length(hooked), secret_rows(hooked)
    for role in ("read", "write"):
        token = make_token(hooked, role)
        between = log_length(hooked)
        for method, path, body in (
            ("POST", "/webhooks", {"url": receiver.url("/roles")}),
            ("GET", "/webhooks", None),
            ("GET", f"/webhooks/{hook['id']}", None),
            ("GET", f"/webhooks/{hook['id']}/deliveries", None),
            ("DELETE", f"/webhooks/{hook['id']}", None),
        ):
            response = call(hooked, method, path, token, json=body)
            assert_error(response, 403, "PermissionDeniedError")
        assert log_length(hooked) == between
    assert log_length(hooked) == before + 2  # the two tokens, nothing else
    assert secret_rows(hooked) == rows
    assert (
        call(hooked, "GET", f"/webhooks/{hook['id']}", hooked.admin_token).json()["removed"] is None
    )


@pytest.mark.parametrize(
    "body",
    [
        {"url": "ftp://example.com/hook"},
        {"url": "http://"},
        {"url": "https:///no-host"},
        {"url": "http://user:password@example.com/hook"},
        {"url": "example.com/hook"},
        {"url": "http://example.com/hook", "events": ["Model.Promoted"]},
        {"url": "http://example.com/hook", "events": []},
        {"url": "http://example.com/hook", "model": "a/b"},
        {"url": "http://example.com/hook", "secret": "short"},
    ],
    ids=lambda body: "-".join(f"{k}={v}" for k, v in body.items())[:60],
)
def test_a_bad_target_or_filter_is_400_and_leaves_nothing(
    hooked: RunningServer, body: dict[str, Any]
) -> None:
    before, rows = log_length(hooked), secret_rows(hooked)
    response = call(hooked, "POST", "/webhooks", hooked.admin_token, json=body)
    assert_error(response, 400, "ValidationError")
    assert log_length(hooked) == before
    assert secret_rows(hooked) == rows


def test_an_unknown_webhook_is_404_and_a_removed_one_cannot_be_removed_again(
    hooked: RunningServer, receiver: Receiver
) -> None:
    unknown = uuid.uuid4()
    for method, path in (
        ("GET", f"/webhooks/{unknown}"),
        ("GET", f"/webhooks/{unknown}/deliveries"),
        ("DELETE", f"/webhooks/{unknown}"),
    ):
        assert_error(call(hooked, method, path, hooked.admin_token), 404, "NotFoundError")
    hook = register(hooked, receiver.url("/twice"))
    path = f"/webhooks/{hook['id']}"
    assert call(hooked, "DELETE", path, hooked.admin_token).status_code == 204
    assert_error(call(hooked, "DELETE", path, hooked.admin_token), 404)


# ------------------------------------------------------------------ deliveries


def test_events_arrive_in_log_order_signed_as_the_stream_has_them_and_filtered(
    hooked: RunningServer, receiver: Receiver
) -> None:
    all_path = fresh("/all")
    iris_stages_path = fresh("/iris-stages")
    everything = register(hooked, receiver.url(all_path))
    chosen = register(
        hooked,
        receiver.url(iris_stages_path),
        events=["Model.StageChanged"],
        model="wh-iris",
        secret="iris-stage-secret-0123",
    )
    iris = make_model(hooked, "wh-iris", 3)
    other = make_model(hooked, "wh-other", 2)
    move(hooked, iris[0], "staging")
    move(hooked, other[0], "staging")
    move(hooked, iris[1], "production")
    move(hooked, iris[2], "production")  # displaces iris[1]: two StageChanged
    start = registered_at(hooked, everything["id"])
    expected = log_events(hooked, start)
    last = expected[-1]["position"]
    wait_until(
        "every event delivered",
        lambda: any(a.position == last for a in receiver.acknowledged(all_path)),
    )

    arrived = receiver.arrivals(all_path)
    assert [a.position for a in arrived] == [e["position"] for e in expected]
    for arrival, event in zip(arrived, expected, strict=True):
        assert json.loads(arrival.body) == dict(event, model=event["model_id"])
        assert signed_by(everything["secret"], arrival)
        assert arrival.headers["modelplane-event"] == event["type"]
        assert arrival.headers["content-type"] == "application/json"
        assert arrival.headers["user-agent"].startswith("modelplane-webhooks")
        assert arrival.delivery == str(
            uuid.uuid5(uuid.UUID(everything["id"]), str(event["position"]))
        )
    tampered = Arrival(all_path, arrived[0].headers, arrived[0].body + b" ", 0.0, 200)
    assert not signed_by(everything["secret"], tampered)
    restamped = dict(arrived[0].headers, **{"modelplane-timestamp": "1"})
    assert not signed_by(
        everything["secret"], Arrival(all_path, restamped, arrived[0].body, 0, 200)
    )
    assert not signed_by("another-secret-altogether", arrived[0])

    iris_id = call(hooked, "GET", "/models/wh-iris", hooked.admin_token).json()["id"]
    wanted = [
        e["position"]
        for e in expected
        if e["type"] == "Model.StageChanged"
        and e["model_id"] == iris_id
        and e["position"] > registered_at(hooked, chosen["id"])
    ]
    assert len(wanted) == 4
    wait_until("the filtered events", lambda: len(receiver.acknowledged(iris_stages_path)) >= 4)
    got = receiver.arrivals(iris_stages_path)
    assert [a.position for a in got] == wanted
    assert all(signed_by("iris-stage-secret-0123", a) for a in got)
    shown = call(hooked, "GET", f"/webhooks/{everything['id']}", hooked.admin_token).json()
    assert shown["position"] == last and shown["lease_owner"] and shown["lease_until"]


def test_a_failing_receiver_gets_each_event_again_until_it_takes_it_in_order(
    hooked: RunningServer, receiver: Receiver
) -> None:
    flaky_path = fresh("/flaky")
    receiver.plan(flaky_path, ("fail", 500), ("fail", 503), ("fail", 500))
    hook = register(hooked, receiver.url(flaky_path))
    make_model(hooked, "wh-flaky", 2)
    expected = [e["position"] for e in log_events(hooked, registered_at(hooked, hook["id"]))]
    wait_until(
        "the events after three failures",
        lambda: {a.position for a in receiver.acknowledged(flaky_path)} >= set(expected),
    )
    arrived = receiver.arrivals(flaky_path)
    assert [a.position for a in arrived] == [expected[0]] * 4 + expected[1:]
    assert [a.answered for a in arrived[:4]] == [500, 503, 500, 200]
    assert len({a.delivery for a in arrived[:4]}) == 1  # one delivery, four attempts
    assert all(signed_by(hook["secret"], a) for a in arrived)

    wait_until("the attempts recorded", lambda: len(deliveries(hooked, hook["id"])) == len(arrived))
    attempts = list(reversed(deliveries(hooked, hook["id"])))  # listed newest first
    first = attempts[:4]
    assert [a["attempt"] for a in first] == [1, 2, 3, 4]
    assert [a["status_code"] for a in first] == [500, 503, 500, 200]
    assert [a["error"] for a in first] == ["HTTP 500", "HTTP 503", "HTTP 500", None]
    assert {a["delivery_id"] for a in first} == {arrived[0].delivery}
    assert [a["position"] for a in attempts] == [a.position for a in arrived]
    shown = cli(hooked, "webhook", "deliveries", hook["id"], "--limit", "100").stdout
    assert shown.count("HTTP 500") == 2 and shown.count("HTTP 503") == 1
    assert arrived[0].delivery in shown
    limited = deliveries(hooked, hook["id"], limit=2)
    assert [a["position"] for a in limited] == [a["position"] for a in attempts[::-1][:2]]


def test_a_redirect_is_not_followed_and_counts_as_a_failure(
    hooked: RunningServer, receiver: Receiver
) -> None:
    moved_path = fresh("/moved")
    elsewhere_path = fresh("/elsewhere")
    receiver.plan(moved_path, ("redirect", receiver.url(elsewhere_path)))
    hook = register(hooked, receiver.url(moved_path))
    make_model(hooked, "wh-moved", 0)
    first = registered_at(hooked, hook["id"]) + 1
    wait_until("a delivery after the redirect", lambda: len(receiver.acknowledged(moved_path)) >= 1)
    assert receiver.arrivals(elsewhere_path) == []
    assert [a.answered for a in receiver.arrivals(moved_path)[:2]] == [302, 200]
    attempts = list(reversed(deliveries(hooked, hook["id"])))
    assert (attempts[0]["position"], attempts[0]["status_code"]) == (first, 302)
    assert "redirects are not followed" in attempts[0]["error"]
    assert (attempts[1]["position"], attempts[1]["error"]) == (first, None)


def test_a_receiver_that_hangs_is_timed_out_and_sent_the_event_again(
    hooked: RunningServer, receiver: Receiver
) -> None:
    slow_path = fresh("/slow")
    receiver.plan(slow_path, ("hang", 4))  # past the 1 s timeout
    hook = register(hooked, receiver.url(slow_path))
    make_model(hooked, "wh-slow", 0)
    wait_until("a delivery after the timeout", lambda: len(receiver.acknowledged(slow_path)) >= 1)
    attempts = list(reversed(deliveries(hooked, hook["id"])))
    assert attempts[0]["status_code"] is None and "timed out" in attempts[0]["error"]
    assert attempts[1]["error"] is None and attempts[1]["status_code"] == 200
    assert attempts[0]["delivery_id"] == attempts[1]["delivery_id"]
    assert attempts[0]["position"] == attempts[1]["position"]


def test_a_removed_webhook_is_sent_nothing_appended_after_its_removal(
    hooked: RunningServer, receiver: Receiver
) -> None:
    kept_path = fresh("/kept")
    gone_path = fresh("/gone")
    register(hooked, receiver.url(kept_path))
    gone = register(hooked, receiver.url(gone_path))
    make_model(hooked, "wh-removal", 1)
    head = log_events(hooked)[-1]["position"]
    for path in (kept_path, gone_path):
        wait_until(path, functools.partial(receiver.delivered, path, [head]))
    removal = call(hooked, "DELETE", f"/webhooks/{gone['id']}", hooked.admin_token)
    assert removal.status_code == 204
    removed_at = log_events(hooked)[-1]
    assert removed_at["type"] == "Webhook.Removed"
    make_model(hooked, "wh-after-removal", 2)
    last = log_events(hooked)[-1]["position"]
    wait_until("the kept one", functools.partial(receiver.delivered, kept_path, [last]))
    # the kept one is served by the same deliverer, from the same polls
    assert all(a.position < removed_at["position"] for a in receiver.arrivals(gone_path))
    assert any(a.position > removed_at["position"] for a in receiver.arrivals(kept_path))
    shown = call(hooked, "GET", f"/webhooks/{gone['id']}", hooked.admin_token).json()
    assert shown["removed"] is not None and shown["position"] < removed_at["position"]


# ------------------------------------------------------------------ crashes


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_a_server_killed_mid_delivery_resumes_where_it_stopped(
    kind: str, tmp_path: Path, receiver: Receiver
) -> None:
    """SIGKILL while the receiver holds a delivery open: the restarted server sends that
    event again under the same delivery id, then the rest, in order, none skipped."""
    path = f"/crash-{kind}"
    receiver.release.clear()
    receiver.plan(path, ("hold", None))
    home = tmp_path / "home"
    home.mkdir()
    database, url = create_database() if kind == "postgres" else (None, None)
    try:
        with running_server(home, url, extra_env=FAST) as first:
            hook = register(first, receiver.url(path))
            make_model(first, f"wh-crash-{kind}", 3)
            expected = [e["position"] for e in log_events(first, registered_at(first, hook["id"]))]
            wait_until("the held delivery", lambda: receiver.in_flight(path) == 1)
            os.kill(first.pid, signal.SIGKILL)
        receiver.release.set()
        wait_until("the held request to end", lambda: len(receiver.arrivals(path)) == 1)
        held = receiver.arrivals(path)[0]
        assert held.position == expected[0] and held.answered is None

        with running_server(home, url, extra_env=FAST) as second:
            wait_until(
                "every event after the restart",
                lambda: {a.position for a in receiver.acknowledged(path)} >= set(expected),
            )
            attempts = deliveries(second, hook["id"])
            shown = call(second, "GET", f"/webhooks/{hook['id']}", second.admin_token).json()
    finally:
        if database is not None:
            drop_database(database)

    arrived = receiver.arrivals(path)
    assert in_log_order(arrived)
    assert [a.position for a in arrived] == [expected[0], *expected]  # only the held one twice
    assert arrived[0].delivery == arrived[1].delivery
    assert all(signed_by(hook["secret"], a) for a in arrived)
    assert shown["position"] == expected[-1]
    assert {a["worker"] for a in attempts} == {shown["lease_owner"]}  # the new process's


# ------------------------------------------------------------------ several processes


def _append(servers: list[RunningServer], prefix: str, models: int) -> None:
    for n in range(models):
        make_model(servers[n % len(servers)], f"{prefix}-{n}", 1)


def _delivered_once_each(
    receiver: Receiver, paths: list[str], start: int, expected: list[int]
) -> None:
    for path in paths:
        wait_until(f"{path} delivered", functools.partial(receiver.delivered, path, expected))
    for path in paths:
        assert [a.position for a in receiver.arrivals(path) if a.position > start] == expected
        assert receiver.most_in_flight[path] == 1, path


def test_four_workers_deliver_each_event_once_and_one_at_a_time(
    tmp_path_factory: pytest.TempPathFactory, receiver: Receiver
) -> None:
    """Every worker process runs a deliverer; the lease makes one of them deliver a webhook
    at a time: no event twice (the receiver always accepts, slowly), never two requests of
    one webhook in flight together."""
    paths = [f"/four-{n}" for n in range(3)]
    for path in paths:
        receiver.delay[path] = 0.02
    with started(tmp_path_factory, "sqlite", 4, FAST) as server:
        hooks = [register(server, receiver.url(path)) for path in paths]
        start = max(registered_at(server, h["id"]) for h in hooks)
        _append([server], "wh-four", 20)
        expected = [e["position"] for e in log_events(server, start)]
        _delivered_once_each(receiver, paths, start, expected)


def test_two_servers_over_one_postgres_share_the_webhooks_and_hand_them_over(
    tmp_path_factory: pytest.TempPathFactory, receiver: Receiver
) -> None:
    """Two servers of two workers each over one database: each event once, one request of
    a webhook in flight at a time; the server holding the webhooks stops (giving its leases
    up on the way out) and the other carries on from where it stopped."""
    paths = [f"/pair-{n}" for n in range(3)]
    for path in paths:
        receiver.delay[path] = 0.02
    database, url = create_database()
    home = tmp_path_factory.mktemp("pair") / "home"
    home.mkdir()
    with contextlib.ExitStack() as stack:
        stack.callback(drop_database, database)
        leaving_stack = stack.enter_context(contextlib.ExitStack())
        leaving = leaving_stack.enter_context(running_server(home, url, 2, FAST))
        hooks = [register(leaving, receiver.url(path)) for path in paths]
        start = max(registered_at(leaving, h["id"]) for h in hooks)
        wait_until(
            "the first server to claim every webhook",
            lambda: all(
                h["lease_owner"]
                for h in call(leaving, "GET", "/webhooks", leaving.admin_token).json()
            ),
        )
        staying = stack.enter_context(running_server(home, url, 2, FAST))
        _append([leaving, staying], "wh-pair", 20)
        wait_until(
            "deliveries before the stop", lambda: all(receiver.acknowledged(p) for p in paths)
        )
        before = {a["worker"] for h in hooks for a in deliveries(staying, h["id"])}
        leaving_stack.close()  # SIGTERM: its deliverers release their leases
        _append([staying], "wh-pair-after", 10)
        expected = [e["position"] for e in log_events(staying, start)]
        _delivered_once_each(receiver, paths, start, expected)
        after = {a["worker"] for h in hooks for a in deliveries(staying, h["id"])} - before
        owners = {
            h["lease_owner"] for h in call(staying, "GET", "/webhooks", staying.admin_token).json()
        }
    assert after and owners <= after  # the staying server delivered what followed the stop
