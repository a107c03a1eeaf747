"""kill -9 one worker of a 4-worker server on PostgreSQL in the middle of a load.

The installed uvicorn (0.55, ``uvicorn/supervisors/multiprocess.py``) restarts a dead worker
itself: every half second ``keep_subprocess_alive`` looks at each worker, and one that is not
alive is reaped and replaced by a new process on the same listening socket (only a worker that
failed before it began serving stops the server instead). So the "restart" is uvicorn's, and
the test checks that it happened: the killed pid leaves the server's children, a new one takes
its place and a write is served by it.

Workers are found as the server's children that hold its listening socket (a child holding no
such socket is multiprocessing's resource tracker), and the worker that serves a connection as
the child holding the server's end of it (``/proc/net/tcp`` and ``/proc/<pid>/fd``): no
process is ever looked up by name. The worker killed is the one holding the stream consumer's
connection, chosen among those that also serve load clients where possible.

Half the clients send their writes with an ``Idempotency-Key`` and, when the connection dies,
send them again with it on a new connection (waiting out ``IdempotencyInProgressError`` while
the dead worker's claim runs out): each of those writes ends acknowledged, applied once. For
the other half a write whose connection died before its answer came has an unknown outcome
and is not retried. Every write carries what identifies its events in the log (a
creation: a version name of its own; a promotion: its version, which is promoted at most once),
so afterwards each write's events are counted: an acknowledged write's events are all there
once, an unknown one's are all there once or not at all, and no event belongs to anything else.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from sqlalchemy import create_engine

from tests.conftest import create_database, drop_database
from tests.http.conftest import API, all_events, bearer, call, hold_production, make_token, ok
from tests.projection_tables import dump_tables
from tests.servers import RunningServer, client_port, running_server, worker_of, worker_pids

pytestmark = pytest.mark.slow

WORKERS = 4
CLIENTS = 8
LOAD_SECONDS = 10.0
KILL_AFTER = 4.0
MODELS = ("churn", "fraud", "rank", "price")
MIX = (("create", 35), ("forced", 25), ("read_latest", 20), ("read_production", 20))
REQUEST_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
#: bounds on every wait: the replacement worker, the stream catching up, a thread ending
RESTART_SECONDS = 60.0
CATCH_UP_SECONDS = 60.0
#: fresh connections tried until one is served by the replacement worker
PROBES = 200
#: tries at opening the consumer on a worker that also serves load clients
PLACEMENTS = 20
#: the idempotency lease, and how often a keyed write is sent again before giving up
LEASE_SECONDS = 2
KEYED_ATTEMPTS = 40
#: a short keep-alive, so the consumer wakes at least this often to check it is done
KEEPALIVE = "1"
#: a creation with a name of its own also claims the name (test_http_load.py's have none)
PER_CREATION = Counter(
    {
        "Model.VersionAdded": 1,
        "ModelVersion.Created": 1,
        "VersionName.Created": 1,
        "VersionName.Claimed": 1,
    }
)
PER_PROMOTION = Counter({"Model.StageChanged": 2, "ModelVersion.StageSet": 2})


# ---------------------------------------------------------------------- server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    name, url = create_database()
    home = tmp_path / "home"
    home.mkdir()
    env = {
        "MODELPLANE_STREAM_KEEPALIVE_SECONDS": KEEPALIVE,
        # a claim held by the killed worker blocks its key this long (60 s by default)
        "MODELPLANE_IDEMPOTENCY_LEASE_SECONDS": str(LEASE_SECONDS),
    }
    try:
        with running_server(home, url, workers=WORKERS, extra_env=env) as running:
            yield running
    finally:
        drop_database(name)


# --------------------------------------------------------------------- clients


@dataclass
class Tally:
    """What one client's writes came to. Creations are keyed by their version name,
    promotions by their version id; ``acked`` maps a key to when its answer came."""

    acked: dict[tuple[str, str], float] = field(default_factory=dict)
    unknown: set[tuple[str, str]] = field(default_factory=set)
    retried: set[tuple[str, str]] = field(default_factory=set)  # sent again with their key
    created: dict[str, str] = field(default_factory=dict)  # version name -> id
    broken_reads: int = 0
    failures: list[str] = field(default_factory=list)


class LoadClient:
    """One client: its own keep-alive connection, its own fresh versions, its own draw."""

    def __init__(self, server: RunningServer, token: str, index: int) -> None:
        self.server, self.token, self.index = server, token, index
        self.http = self._connect()
        self.random = random.Random(index)
        self.fresh: dict[str, list[str]] = {m: [] for m in MODELS}
        self.tally = Tally()
        self.made = 0
        #: whether this client's writes carry a key and are sent again after a cut
        self.keyed = index % 2 == 0

    def _connect(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.server.url + API, headers=bearer(self.token), timeout=REQUEST_TIMEOUT
        )

    def connect(self) -> int:
        """Open the connection (again): the local port it came on."""
        self.http.close()
        self.http = self._connect()
        response = self.http.get(f"/models/{MODELS[0]}/model_versions/production")
        assert response.status_code == 200, response.text
        return client_port(response)

    def run(self, until: float) -> None:
        kinds = [kind for kind, _ in MIX]
        weights = [weight for _, weight in MIX]
        try:
            while time.monotonic() < until:
                kind = self.random.choices(kinds, weights)[0]
                model = self.random.choice(MODELS)
                if kind == "create":
                    self.create(model)
                elif kind == "forced":
                    self.forced(model)
                else:
                    self.read(kind, model)
        except Exception as error:
            self.tally.failures.append(f"{type(error).__name__}: {error}")
        finally:
            self.http.close()

    def _send(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        status: int,
        write: tuple[str, str] | None = None,
    ) -> httpx.Response | None:
        """The answer, or None when the connection died first (the outcome is unknown)."""
        if write is not None and self.keyed:
            response = self._send_keyed(method, path, body, write)
        else:
            try:
                response = self.http.request(method, path, json=body)
            except httpx.TransportError:
                return None
        if response is None:
            return None
        if response.status_code != status:
            self.tally.failures.append(f"{method} {path}: {response.status_code} {response.text}")
        return response

    def _send_keyed(
        self, method: str, path: str, body: dict[str, Any] | None, write: tuple[str, str]
    ) -> httpx.Response | None:
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        for _ in range(KEYED_ATTEMPTS):
            try:
                response = self.http.request(method, path, json=body, headers=headers)
            except httpx.TransportError:
                self.tally.retried.add(write)
                self.http.close()
                self.http = self._connect()
                time.sleep(0.1)
                continue
            busy = response.status_code == 409 and "IdempotencyInProgressError" in response.text
            if not busy:
                return response
            self.tally.retried.add(write)
            time.sleep(min(float(response.headers.get("Retry-After", "1")), LEASE_SECONDS))
        return None

    def create(self, model: str) -> None:
        self.made += 1
        name = f"k{self.index}-{self.made}"
        key = ("create", name)
        body = {"model": model, "name": name}
        response = self._send("POST", "/model_versions", body, 201, key)
        if response is None:
            self.tally.unknown.add(key)
        elif response.status_code == 201:
            self.tally.acked[key] = time.monotonic()
            version = str(response.json()["id"])
            self.tally.created[name] = version
            self.fresh[model].append(version)

    def forced(self, model: str) -> None:
        if not self.fresh[model]:
            self.create(model)
        if not self.fresh[model]:
            return
        version = self.fresh[model].pop()  # promoted at most once, whatever the outcome
        key = ("promote", version)
        body = {"stage": "production", "force": True}
        response = self._send("PUT", f"/model_versions/{version}", body, 200, key)
        if response is None:
            self.tally.unknown.add(key)
        elif response.status_code == 200:
            self.tally.acked[key] = time.monotonic()

    def read(self, kind: str, model: str) -> None:
        which = "latest" if kind == "read_latest" else "production"
        if self._send("GET", f"/models/{model}/model_versions/{which}", None, 200) is None:
            self.tally.broken_reads += 1


class Consumer(threading.Thread):
    """Reads the stream from ``after``; when its connection dies, reconnects with the
    ``Last-Event-ID`` of the last event it received whole, until it has seen ``target``."""

    def __init__(self, server: RunningServer, token: str, after: int) -> None:
        super().__init__(daemon=True)
        self.server, self.token, self.after = server, token, after
        self.positions: list[int] = []
        self.ports: list[int] = []  # the local port of each connection, in turn
        self.breaks = 0
        self.target: int | None = None
        self.deadline = time.monotonic() + LOAD_SECONDS + RESTART_SECONDS + CATCH_UP_SECONDS
        self.error: str | None = None
        self.connected = threading.Event()
        self.stop = threading.Event()  # set before the load: reopen (no event has come yet)

    def run(self) -> None:
        try:
            while not self._read():
                pass
        except Exception as error:
            self.error = f"{type(error).__name__}: {error}"
        finally:
            self.connected.set()

    def done(self) -> bool:
        return (
            self.target is not None and bool(self.positions) and self.positions[-1] >= self.target
        )

    def _read(self) -> bool:
        """One connection: True once done, False when it broke or was told to reopen."""
        resume = str(self.positions[-1]) if self.positions else str(self.after)
        headers = {**bearer(self.token)}
        if self.ports:  # a reconnection says where it resumes, as EventSource would
            headers["Last-Event-ID"] = resume
        timeout = httpx.Timeout(10.0, connect=5.0)  # keep-alives come every second
        try:
            with (
                httpx.Client(base_url=self.server.url + API, timeout=timeout) as client,
                client.stream(
                    "GET", "/events/stream", params={"after": self.after}, headers=headers
                ) as response,
            ):
                assert response.status_code == 200, response.read()
                lines = response.iter_lines()
                assert next(lines).startswith(": ")
                assert next(lines) == f"id: {resume}"  # the stream begins where it resumes
                self.ports.append(client_port(response))
                self.connected.set()
                position = None
                while time.monotonic() < self.deadline and not self.stop.is_set():
                    if self.done():
                        return True
                    line = next(lines)
                    if line.startswith("id: "):
                        position = int(line.removeprefix("id: "))
                    elif line.startswith("data: "):
                        event = orjson.loads(line.removeprefix("data: "))
                        assert position is not None and event["position"] == position, event
                        self.positions.append(position)
                if self.stop.is_set():
                    self.stop.clear()
                    return False
                raise AssertionError(f"the stream did not reach {self.target} in time")
        except (httpx.TransportError, StopIteration):
            self.breaks += 1
            return False


# ------------------------------------------------------------------- accounting


def events_per_write(
    log: list[dict[str, Any]],
) -> tuple[dict[tuple[str, str], Counter[str]], list[Any]]:
    """Each write's events by type, keyed as :class:`Tally` keys them; and what fits none.

    A creation's events carry its version's name, or (the claim of the name) its version id.
    A promotion of version ``v`` appends its move into production, ``v``'s stage set, and the
    displacement of the holder (named in the move as ``displaced_version_id``) with its stage
    set; a version is displaced at most once (archived, it is never promoted again).
    """
    displaced_by = {
        e["payload"]["displaced_version_id"]: e["payload"]["version_id"]
        for e in log
        if e["type"] == "Model.StageChanged" and e["payload"]["stage"] == "production"
    }
    named = {
        e["originator_id"]: e["payload"]["name"] for e in log if e["type"] == "ModelVersion.Created"
    }
    writes: dict[tuple[str, str], Counter[str]] = {}
    strays: list[Any] = []
    for event in log:
        kind, payload = event["type"], event["payload"]
        key: tuple[str, str] | None = None
        if kind in ("Model.VersionAdded", "ModelVersion.Created", "VersionName.Created"):
            key = ("create", payload["name"])
        elif kind == "VersionName.Claimed" and payload["version_id"] in named:
            key = ("create", named[payload["version_id"]])
        elif kind in ("Model.StageChanged", "ModelVersion.StageSet"):
            version = payload.get("version_id") or event["originator_id"]
            if payload["stage"] == "production":
                key = ("promote", version)
            elif payload["stage"] == "archived" and version in displaced_by:
                key = ("promote", displaced_by[version])
        if key is None:
            strays.append((event["position"], kind, payload))
        else:
            writes.setdefault(key, Counter())[kind] += 1
    return writes, strays


def test_a_worker_killed_mid_load_loses_nothing(server: RunningServer) -> None:
    token = make_token(server, "write", "kill-writer")
    hold_production(server, token, MODELS)
    workers = worker_pids(server)
    assert len(workers) == WORKERS, workers
    start = int(all_events(server)[-1]["position"])

    clients = [LoadClient(server, token, index) for index in range(CLIENTS)]
    placed = {client.index: worker_of(server, client.connect()) for client in clients}
    consumer = Consumer(server, token, start)
    consumer.start()
    victim: int | None = None
    for _ in range(PLACEMENTS):  # a consumer's worker that also serves clients, if it can
        assert consumer.connected.wait(30), "the stream did not open"
        assert consumer.error is None, consumer.error
        victim = worker_of(server, consumer.ports[-1])
        if victim in placed.values():
            break
        consumer.connected.clear()
        consumer.stop.set()  # it reopens within a keep-alive: nothing was written yet
    assert victim in workers, (victim, workers)
    on_victim = sum(1 for pid in placed.values() if pid == victim)

    until = time.monotonic() + LOAD_SECONDS
    threads = [threading.Thread(target=c.run, args=(until,), daemon=True) for c in clients]
    for thread in threads:
        thread.start()
    time.sleep(KILL_AFTER)
    os.kill(victim, signal.SIGKILL)
    killed_at = time.monotonic()

    # uvicorn replaces it: the killed pid leaves the children, a new worker takes its place
    deadline = time.monotonic() + RESTART_SECONDS
    now = worker_pids(server)
    while (victim in now or len(now) < WORKERS) and time.monotonic() < deadline:
        time.sleep(0.1)
        now = worker_pids(server)
    assert victim not in now and len(now) == WORKERS, (victim, workers, now)
    (replacement,) = now - workers
    for thread in threads:
        thread.join(LOAD_SECONDS + 60)
        assert not thread.is_alive(), "a client did not finish"

    # the replacement serves writes: fresh connections until one lands on it
    probe = LoadClient(server, token, CLIENTS)
    for _ in range(PROBES):
        if worker_of(server, probe.connect()) == replacement:
            probe.create(MODELS[0])
            break
    probe.http.close()
    assert len(probe.tally.acked) == 1, "no connection was served by the replacement worker"

    tally = Tally()
    for client in [*clients, probe]:
        assert not client.tally.failures, client.tally.failures[:5]
        tally.acked |= client.tally.acked
        tally.unknown |= client.tally.unknown
        tally.retried |= client.tally.retried
        tally.created |= client.tally.created
        tally.broken_reads += client.tally.broken_reads
    after_kill = sum(1 for at in tally.acked.values() if at > killed_at)
    assert after_kill > 0, "no write was acknowledged after the kill"

    # every acknowledged write's events once; an unknown one's once or not at all; no other
    log = all_events(server, start)
    writes, strays = events_per_write(log)
    assert not strays, strays[:5]
    full = {"create": PER_CREATION, "promote": PER_PROMOTION}
    for key, counts in writes.items():
        assert key in tally.acked or key in tally.unknown, (key, counts)
        assert counts == full[key[0]], (key, counts)  # all of it, once: never applied twice
    lost = [key for key in tally.acked if key not in writes]
    assert not lost, lost[:5]
    # a write sent again with its key was answered, and (above) applied once
    assert tally.retried <= set(tally.acked), sorted(tally.retried - set(tally.acked))
    applied = sorted(key for key in tally.unknown if key in writes)
    made = {
        e["payload"]["name"]: e["originator_id"] for e in log if e["type"] == "ModelVersion.Created"
    }
    assert {name: made[name] for name in tally.created} == tally.created
    print(
        f"\nworker {victim} killed {KILL_AFTER:g} s into the load (it held the stream and "
        f"{on_victim} of {CLIENTS} client connections); replaced by {replacement}. "
        f"{len(tally.acked)} writes acknowledged ({after_kill} after the kill), "
        f"{len(tally.unknown)} of unknown outcome ({len(applied)} applied: {applied}), "
        f"{len(tally.retried)} sent again with their key, "
        f"{tally.broken_reads} reads cut off; the consumer reconnected {consumer.breaks} time(s)"
    )

    # one production holder per model: the version its last move into production names
    everything = all_events(server)
    models = {e["payload"]["name"]: e["originator_id"] for e in everything
              if e["type"] == "Model.Registered"}  # fmt: skip
    for model in MODELS:
        moves = [
            e["payload"]["version_id"]
            for e in everything
            if e["type"] == "Model.StageChanged"
            and e["originator_id"] == models[model]
            and e["payload"]["stage"] == "production"
        ]
        page = ok(
            call(server, "GET", f"/models/{model}/model_versions", token,
                 params={"stage": "production"}),
            200,
        )  # fmt: skip
        assert [item["id"] for item in page["items"]] == [moves[-1]], model

    # the read tables equal a rebuild of the log
    engine = create_engine(server.store_url or "")
    try:
        with engine.connect() as conn:
            live = dump_tables(conn)
        response = call(server, "POST", "/replay", server.admin_token, json={})
        assert response.status_code == 200, response.text
        with engine.connect() as conn:
            assert dump_tables(conn) == live
    finally:
        engine.dispose()

    # the consumer, cut off with its worker, resumed and saw every position once, in order
    consumer.target = int(log[-1]["position"])
    consumer.join(CATCH_UP_SECONDS + 15)
    assert not consumer.is_alive(), "the stream consumer did not finish"
    assert consumer.error is None, consumer.error
    assert consumer.breaks >= 1, consumer.ports
    assert consumer.positions == [int(e["position"]) for e in log]
