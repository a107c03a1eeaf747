"""Load over a real server: 16 clients for ``LOAD_SECONDS`` against 4 workers on PostgreSQL.

Each client is a thread with its own keep-alive connection (any worker may hold it), mixing
reads, version creation and forced, unforced and conditional promotions over a few models,
while one consumer reads the event stream from the start of the load. Only the answers the
contract allows may come (2xx, 409 for an unforced promotion, 412 for a stale
``expected_holder``); afterwards the log must hold exactly what the acknowledged writes
appended, each model one production holder, read tables equal to a rebuild, and the stream
every position once, in order.

Exact accounting is possible because no write can be a no-op: every model gets a production
holder before the load, so production is never empty, and a client promotes only versions it
created and never promoted, so an acknowledged promotion always moves a fresh version in and
displaces the holder (measured: two ``Model.StageChanged`` and two ``ModelVersion.StageSet``);
a creation appends one ``Model.VersionAdded`` and one ``ModelVersion.Created``. Unforced
promotions are therefore always refused (409) once the load starts: they check that a
refusal appends nothing while the stage churns.
"""

from __future__ import annotations

import itertools
import os
import random
import threading
import time
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
from tests.servers import RunningServer, running_server

pytestmark = pytest.mark.slow

#: seconds of load (MODELPLANE_LOAD_SECONDS runs it longer or shorter)
LOAD_SECONDS = float(os.environ.get("MODELPLANE_LOAD_SECONDS", "20"))
CLIENTS = 16
WORKERS = 4
MODELS = ("churn", "fraud", "rank", "price")
#: bounds on every wait: one request, the stream catching up, a thread ending
REQUEST_TIMEOUT = httpx.Timeout(30.0, connect=5.0)
CATCH_UP_SECONDS = 60.0
#: a short keep-alive, so the consumer wakes at least this often to check its deadline
KEEPALIVE = "1"
#: what each operation is drawn with
MIX = (
    ("read_latest", 20),
    ("read_production", 20),
    ("create", 20),
    ("forced", 15),
    ("unforced", 10),
    ("conditional", 15),
)
#: the events one acknowledged write appends (see the module docstring)
PER_CREATION = Counter({"Model.VersionAdded": 1, "ModelVersion.Created": 1})
PER_PROMOTION = Counter({"Model.StageChanged": 2, "ModelVersion.StageSet": 2})


@dataclass
class Tally:
    """What one client did: statuses per operation, what was acknowledged, what went wrong."""

    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    created: list[str] = field(default_factory=list)  # version ids
    promoted: list[str] = field(default_factory=list)  # version ids moved into production
    failures: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    name, url = create_database()
    home = tmp_path_factory.mktemp("load") / "home"
    home.mkdir()
    env = {"MODELPLANE_STREAM_KEEPALIVE_SECONDS": KEEPALIVE}
    try:
        with running_server(home, url, workers=WORKERS, extra_env=env) as running:
            yield running
    finally:
        drop_database(name)


def _head(server: RunningServer) -> int:
    events = all_events(server)
    return int(events[-1]["position"]) if events else 0


class LoadClient:
    """One client: its own connection, its own fresh versions, its own random draw."""

    def __init__(self, server: RunningServer, token: str, seed: int) -> None:
        self.http = httpx.Client(
            base_url=server.url + API, headers=bearer(token), timeout=REQUEST_TIMEOUT
        )
        self.random = random.Random(seed)
        self.fresh: dict[str, list[str]] = {m: [] for m in MODELS}
        self.tally = Tally()
        self.kinds = [kind for kind, _ in MIX]
        self.weights = [weight for _, weight in MIX]

    def run(self, until: float) -> None:
        try:
            while time.monotonic() < until:
                kind = self.random.choices(self.kinds, self.weights)[0]
                getattr(self, kind)(self.random.choice(MODELS))
        except Exception as error:  # a transport error or a timeout is a failure too
            self.tally.failures.append(f"{type(error).__name__}: {error}")
        finally:
            self.http.close()

    def _expect(self, kind: str, response: httpx.Response, allowed: tuple[int, ...]) -> bool:
        self.tally.statuses[(kind, response.status_code)] += 1
        if response.status_code not in allowed:
            self.tally.failures.append(f"{kind}: {response.status_code} {response.text[:300]}")
            return False
        return 200 <= response.status_code < 300

    def read_latest(self, model: str) -> None:
        self._expect("read_latest", self.http.get(f"/models/{model}/model_versions/latest"), (200,))

    def read_production(self, model: str) -> str | None:
        response = self.http.get(f"/models/{model}/model_versions/production")
        if self._expect("read_production", response, (200,)):
            return str(response.json()["id"])
        return None

    def create(self, model: str) -> str | None:
        response = self.http.post("/model_versions", json={"model": model})
        if not self._expect("create", response, (201,)):
            return None
        version = str(response.json()["id"])
        self.tally.created.append(version)
        self.fresh[model].append(version)
        return version

    def _promote(
        self, kind: str, model: str, body: dict[str, Any], allowed: tuple[int, ...]
    ) -> None:
        if not self.fresh[model]:
            self.create(model)  # adds it to fresh[model] when acknowledged
        if not self.fresh[model]:
            return
        version = self.fresh[model].pop()
        response = self.http.put(f"/model_versions/{version}", json={"stage": "production", **body})
        if self._expect(kind, response, allowed):
            moved = response.json()
            # the read-back follows the commit: another client may have displaced it already
            if moved["id"] != version:
                self.tally.failures.append(f"{kind}: answered {moved}")
            self.tally.promoted.append(version)
        else:
            self.fresh[model].append(version)  # refused: still never promoted

    def forced(self, model: str) -> None:
        self._promote("forced", model, {"force": True}, (200,))

    def unforced(self, model: str) -> None:
        self._promote("unforced", model, {}, (200, 409))

    def conditional(self, model: str) -> None:
        holder = self.read_production(model)
        if holder is not None:
            body = {"force": True, "expected_holder": holder}
            self._promote("conditional", model, body, (200, 412))


class Consumer(threading.Thread):
    """Reads the stream from ``after`` until it has seen ``target`` (set once the load ends)
    or its deadline passes; records every position it is sent."""

    def __init__(self, server: RunningServer, token: str, after: int) -> None:
        super().__init__(daemon=True)
        self.server, self.token, self.after = server, token, after
        self.opening: str | None = None
        self.positions: list[int] = []
        self.target: int | None = None
        self.deadline = time.monotonic() + LOAD_SECONDS + CATCH_UP_SECONDS
        self.error: str | None = None
        self.ready = threading.Event()

    def run(self) -> None:
        try:
            self._read()
        except Exception as error:
            self.error = f"{type(error).__name__}: {error}"
        finally:
            self.ready.set()

    def _read(self) -> None:
        timeout = httpx.Timeout(10.0, connect=5.0)  # keep-alives come every second
        with (
            httpx.Client(base_url=self.server.url + API, timeout=timeout) as client,
            client.stream(
                "GET", "/events/stream", params={"after": self.after}, headers=bearer(self.token)
            ) as response,
        ):
            assert response.status_code == 200, response.read()
            lines = response.iter_lines()
            while time.monotonic() < self.deadline:
                if self.target is not None and self.positions and self.positions[-1] >= self.target:
                    return
                line = next(lines)
                if not line.startswith("id: "):
                    continue  # a keep-alive comment, or the blank line ending a message
                position = line.removeprefix("id: ")
                data = next(lines)
                if self.opening is None:  # where the stream begins: an id alone
                    assert data == "", data
                    self.opening = position
                    self.ready.set()
                    continue
                assert data.startswith("data: "), data
                assert str(orjson.loads(data.removeprefix("data: "))["position"]) == position
                self.positions.append(int(position))


def test_load(server: RunningServer, tmp_path: Path) -> None:
    token = make_token(server, "write", "load-writer")
    hold_production(server, token, MODELS)
    start = _head(server)

    consumer = Consumer(server, token, start)
    consumer.start()
    assert consumer.ready.wait(30), "the stream did not open"
    assert consumer.error is None, consumer.error

    clients = [LoadClient(server, token, seed) for seed in range(CLIENTS)]
    began = time.monotonic()
    until = began + LOAD_SECONDS
    threads = [threading.Thread(target=c.run, args=(until,), daemon=True) for c in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(LOAD_SECONDS + 60)
        assert not thread.is_alive(), "a client did not finish"
    elapsed = time.monotonic() - began

    statuses: Counter[tuple[str, int]] = Counter()
    created: list[str] = []
    promoted: list[str] = []
    for client in clients:
        statuses += client.tally.statuses
        created += client.tally.created
        promoted += client.tally.promoted
        assert not client.tally.failures, client.tally.failures[:5]
    total = sum(statuses.values())
    print(
        f"\nload: {total} requests in {elapsed:.1f}s ({total / elapsed:.0f}/s) over {WORKERS} "
        f"workers; {len(created)} creations, {len(promoted)} promotions acknowledged; "
        f"{dict(sorted(statuses.items()))}"
    )
    assert len(created) > 0 and len(promoted) > 0
    assert statuses[("conditional", 200)] > 0, statuses

    # (1) the log holds exactly what the acknowledged writes appended
    log = all_events(server, start)
    expected = Counter[str]()
    for _ in created:
        expected += PER_CREATION
    for _ in promoted:
        expected += PER_PROMOTION
    assert Counter(e["type"] for e in log) == expected
    made = {e["originator_id"] for e in log if e["type"] == "ModelVersion.Created"}
    assert made == set(created)
    changes = [e for e in log if e["type"] == "Model.StageChanged"]
    into_production = [
        e["payload"]["version_id"] for e in changes if e["payload"]["stage"] == "production"
    ]
    assert Counter(into_production) == Counter(promoted)
    assert max(Counter(promoted).values()) == 1
    for event in changes:  # each promotion displaced the holder: archived, then moved in
        if event["payload"]["stage"] == "production":
            displaced = event["payload"]["displaced_version_id"]
            assert displaced is not None, event

    # (2) one production holder per model: the last production move of its history
    for model in MODELS:
        page = ok(
            call(server, "GET", f"/models/{model}/model_versions", token,
                 params={"stage": "production"}),
            200,
        )  # fmt: skip
        holders = [item["id"] for item in page["items"]]
        assert len(holders) == 1, (model, holders)
        history = call(server, "GET", f"/models/{model}/stage_history", token).json()
        moves = [h for h in history if h["stage"] == "production"]
        assert moves[-1]["version_id"] == holders[0], model
        for before, after in itertools.pairwise(moves):
            assert after["displaced_version"] == before["version"], (model, after)

    # (3) the read tables equal a rebuild of the log
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

    # (4) the consumer saw every position of the log from its start, once, in order
    positions = [int(e["position"]) for e in log]
    consumer.target = positions[-1]
    consumer.join(CATCH_UP_SECONDS + 15)
    assert not consumer.is_alive(), "the stream consumer did not finish"
    assert consumer.error is None, consumer.error
    assert consumer.opening == str(start)
    assert consumer.positions == positions, (len(consumer.positions), len(positions))
