"""A write wakes the event streams and the webhook deliverer of every server process.

The servers here run with every timer that could find a new event without a wake-up set to
an hour: the head watcher's SQLite poll and its PostgreSQL safety poll
(``MODELPLANE_LOG_POLL_SECONDS``, ``MODELPLANE_LOG_SAFETY_POLL_SECONDS``), a stream's
keep-alive (an idle stream reads the log again after each one) and the deliverer's own poll
and lease renewal. So an event reaches a subscriber or a receiver only if the write woke the
process that serves it: its own process's commit callback (``ProjectedRegistry.on_commit``),
or PostgreSQL's NOTIFY from another worker. Each wait is bounded only so that a broken
wake-up fails the test instead of hanging it; nothing asserts how fast an event came.
"""

from __future__ import annotations

import contextlib
import json
import queue
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from modelplane.head_watch import LISTENER_NAME
from tests.conftest import create_database, drop_database
from tests.servers import RunningServer, client_port, running_server, worker_of, worker_pids

from .conftest import API, bearer, call, make_token, started

HOUR = "3600"
QUIET = {
    "MODELPLANE_LOG_POLL_SECONDS": HOUR,
    "MODELPLANE_LOG_SAFETY_POLL_SECONDS": HOUR,
    "MODELPLANE_STREAM_KEEPALIVE_SECONDS": HOUR,
    "MODELPLANE_WEBHOOK_POLL_SECONDS": HOUR,
    "MODELPLANE_WEBHOOK_LEASE_SECONDS": HOUR,
}
#: the failure bound of every wait (a wake-up that never comes), far below every timer above
WAIT_SECONDS = 30.0
#: connections opened at most to find one served by each worker
MAX_TRIES = 40


@pytest.fixture(scope="module", params=[("sqlite", 1), ("postgres", 2)], ids=["sqlite", "pg-w2"])
def quiet(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    kind, workers = request.param
    with started(tmp_path_factory, kind, workers=workers, extra_env=QUIET) as running:
        yield running


def _workers(server: RunningServer) -> set[int]:
    """The processes serving requests: the workers, or the server itself when it has one."""
    return worker_pids(server) or {server.pid}


def _worker(server: RunningServer, response: httpx.Response) -> int | None:
    """The process serving the connection ``response`` came on."""
    if worker_pids(server):
        return worker_of(server, client_port(response))
    return server.pid


class Subscriber:
    """One open ``GET /events/stream`` on a connection of its own, and the worker serving it."""

    def __init__(self, stack: contextlib.ExitStack, server: RunningServer, token: str) -> None:
        timeout = httpx.Timeout(WAIT_SECONDS, connect=5.0)
        client = stack.enter_context(httpx.Client(base_url=server.url + API, timeout=timeout))
        self.response = stack.enter_context(
            client.stream("GET", "/events/stream", headers=bearer(token))
        )
        assert self.response.status_code == 200, self.response.read()
        self.lines = self.response.iter_lines()
        # the opening ``id:`` comes once the stream is in its loop (past its first read)
        assert next(line for line in self.lines if line.startswith("id: "))
        self.worker = _worker(server, self.response)

    def positions_until(self, last: int) -> list[int]:
        """The positions of the events that come, up to ``last`` (httpx's read timeout
        bounds the wait for each)."""
        got: list[int] = []
        for line in self.lines:
            if line.startswith("data: "):
                got.append(int(json.loads(line.removeprefix("data: "))["position"]))
                if got[-1] >= last:
                    return got
        raise AssertionError(f"the stream ended after {got}")


def subscribers_on_every_worker(
    stack: contextlib.ExitStack, server: RunningServer, token: str
) -> list[Subscriber]:
    """Streams, each on a new connection, until every worker serves at least one."""
    workers = _workers(server)
    opened: list[Subscriber] = []
    while {s.worker for s in opened} != workers:
        assert len(opened) < MAX_TRIES, ({s.worker for s in opened}, workers)
        opened.append(Subscriber(stack, server, token))
    return opened


@contextlib.contextmanager
def writer(server: RunningServer, token: str) -> Iterator[tuple[httpx.Client, int]]:
    """A client on one keep-alive connection, and the worker that serves it."""
    with httpx.Client(base_url=server.url + API, headers=bearer(token), timeout=30.0) as http:
        opened = http.get("/health")
        assert opened.status_code == 200, opened.text
        worker = _worker(server, opened)
        assert worker is not None
        yield http, worker


def _created(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _positions(http: httpx.Client, after: int = 0) -> list[int]:
    """The positions in the log after ``after``."""
    found = http.get("/events", params={"after": after, "limit": 10_000})
    assert found.status_code == 200, found.text
    return [int(event["position"]) for event in found.json()]


def test_a_write_wakes_the_streams_of_its_own_worker_and_of_the_others(
    quiet: RunningServer,
) -> None:
    token = make_token(quiet, "write")
    with contextlib.ExitStack() as stack:
        streams = subscribers_on_every_worker(stack, quiet, token)
        with writer(quiet, token) as (http, worker):
            start = _positions(http)[-1]
            _created(http.post("/models", json={"name": f"m-{uuid.uuid4().hex[:8]}"}))
            written = _positions(http, start)
        # a stream on the writer's worker (woken by its commit) and, with two workers, one
        # on the other (woken by NOTIFY)
        assert worker in {s.worker for s in streams}
        for stream in streams:
            assert stream.positions_until(written[-1]) == written, stream.worker


class Receiver:
    """A loopback HTTP server putting each POSTed body's log position on a queue."""

    def __init__(self) -> None:
        self.positions: queue.Queue[int] = queue.Queue()
        positions = self.positions

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()
                positions.put(int(json.loads(body)["position"]))

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _holder(server: RunningServer, webhook_id: str) -> int:
    """The pid of the process that claimed the webhook (its lease owner: host:pid:nonce)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        found = call(server, "GET", f"/webhooks/{webhook_id}", server.admin_token)
        assert found.status_code == 200, found.text
        owner = found.json()["lease_owner"]
        if owner is not None:
            return int(owner.split(":")[1])
        assert time.monotonic() < deadline, "no process claimed the webhook"
        time.sleep(0.05)


@pytest.mark.parametrize(
    ("kind", "workers"), [("sqlite", 1), ("postgres", 2)], ids=["sqlite", "pg-w2"]
)
def test_a_write_wakes_the_deliverer_holding_the_webhook(
    tmp_path: Path, kind: str, workers: int
) -> None:
    """A webhook registered through one server, delivered by the next one over the same store:
    its first poll (at start; the next is an hour away) claims the webhook, and then only a
    wake-up makes it deliver, from whichever worker took the write."""
    home = tmp_path / "home"
    home.mkdir()
    name, url = create_database() if kind == "postgres" else (None, None)
    receiver = Receiver()
    model = f"m-{uuid.uuid4().hex[:8]}"
    try:
        with (
            running_server(home, url, workers=workers, extra_env=QUIET) as first,
            writer(first, first.admin_token) as (http, _),
        ):
            _created(http.post("/models", json={"name": model}))
            hook = {"url": receiver.url, "events": ["ModelVersion.Created"], "model": model}
            hook_id = _created(http.post("/webhooks", json=hook))["id"]
        with running_server(home, url, workers=workers, extra_env=QUIET) as second:
            holder = _holder(second, hook_id)
            # writes on new connections until the holder's worker took one and (with two
            # workers) the other did too: woken by its own commit, and by NOTIFY
            wanted = {True, False} if workers > 1 else {True}
            taken: set[bool] = set()
            for _ in range(MAX_TRIES):
                if taken == wanted:
                    break
                with writer(second, second.admin_token) as (http, worker):
                    version = _created(http.post("/model_versions", json={"model": model}))
                    found = http.get("/events", params={"model": model, "after": 0})
                    assert found.status_code == 200, found.text
                taken.add(worker == holder)
                position = next(
                    int(e["position"])
                    for e in found.json()
                    if e["type"] == "ModelVersion.Created" and e["originator_id"] == version["id"]
                )
                assert receiver.positions.get(timeout=WAIT_SECONDS) == position
            assert taken == wanted
    finally:
        receiver.close()
        if name is not None:
            drop_database(name)


def test_a_dropped_listen_connection_is_opened_again(quiet: RunningServer) -> None:
    """Every worker's LISTEN connection is cut (as a database restart would): each watcher
    connects again and reads the head, and the next write still wakes every stream."""
    if quiet.store_url is None:
        pytest.skip("SQLite: no LISTEN connection")
    token = make_token(quiet, "write")
    dsn = quiet.store_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as admin:
        cut = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = %s AND datname = current_database()",
            (LISTENER_NAME,),
        ).fetchall()
    assert len(cut) == len(_workers(quiet))  # one per worker
    with contextlib.ExitStack() as stack:
        streams = subscribers_on_every_worker(stack, quiet, token)
        with writer(quiet, token) as (http, _):
            start = _positions(http)[-1]
            _created(http.post("/models", json={"name": f"m-{uuid.uuid4().hex[:8]}"}))
            written = _positions(http, start)
        for stream in streams:
            assert stream.positions_until(written[-1]) == written, stream.worker
