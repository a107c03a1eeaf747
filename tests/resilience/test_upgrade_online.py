"""A read-table upgrade builds the new tables beside the live ones and swaps them in.

While it builds, processes that were already using the store go on reading (the old
tables) and writing (the log, and the old tables inline); writers wait only for the swap.
A builder killed part-way leaves the live tables as they were, and the next process resumes
its build. A process that needs the new tables while another builds them waits for the swap
(with a message) instead of building a second copy. Whatever the path, the tables that end
up live equal a rebuild from the log.

Stores are made "stale" the way another modelplane version would leave them: a different
fingerprint in ``mp_schema`` (the tables themselves are this version's, so the processes
started before can go on using them).

Seeding the 29,000 events takes seconds, so each backend's store is seeded once per module
and every test gets a copy of it: the SQLite file copied, a PostgreSQL database created from
it as a template.
"""

from __future__ import annotations

import json
import logging
import os
import select
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, text
from sqlalchemy import select as sql_select

from modelplane.client import Client
from modelplane.projections import generations, runner
from modelplane.projections.projected_registry import ProjectedRegistry
from modelplane.projections.tables import FINGERPRINT, schema
from modelplane.store_handle import Store, close_all
from tests.conftest import SharedStore, create_database, drop_database
from tests.projection_tables import dump_tables
from tests.resilience.seeding import seed

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 300
#: About 29,000 events: a build of a few seconds, long enough to act during it.
MODELS = 400


class Worker:
    """A ``tests.resilience.workers`` process and the JSON lines it printed."""

    def __init__(self, *args: str, env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.resilience.workers", *args],
            cwd=ROOT,
            env={**os.environ, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        self.records: list[dict[str, Any]] = []
        self._words: set[str] = set()
        self._buffer = b""

    def wait_for(self, word: str) -> None:
        """Read lines until one is ``word`` (or fail with the worker's stderr)."""
        deadline = time.monotonic() + TIMEOUT
        while word not in self._words:
            assert time.monotonic() < deadline, f"worker never printed {word!r}"
            self._read(timeout=0.5)

    def _read(self, timeout: float) -> None:
        assert self.proc.stdout is not None and self.proc.stderr is not None
        if self.proc.poll() is not None and not self._pending():
            raise AssertionError(self.proc.stderr.read().decode(errors="replace"))
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return
        chunk = os.read(self.proc.stdout.fileno(), 65536)
        if not chunk:
            return
        self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            self._take(line.decode())

    def _pending(self) -> bool:
        assert self.proc.stdout is not None
        return bool(select.select([self.proc.stdout], [], [], 0)[0])

    def _take(self, line: str) -> None:
        if line.startswith("{"):
            self.records.append(json.loads(line))
        elif line:
            self._words.add(line)

    def finish(self) -> list[dict[str, Any]]:
        """Wait for the worker to exit (after its stop file appeared); its records."""
        out, err = self.proc.communicate(timeout=TIMEOUT)
        self._buffer += out
        for line in self._buffer.split(b"\n"):
            self._take(line.decode())
        assert self.proc.returncode == 0, err.decode(errors="replace")
        return self.records

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=TIMEOUT)  # reaped: its pid is gone from this host


@contextmanager
def workers(*started: Worker) -> Iterator[None]:
    try:
        yield
    finally:
        for worker in started:
            if worker.proc.poll() is None:
                worker.kill()


class Seeded:
    """A seeded store to copy: a SQLite file, or a PostgreSQL database (a template)."""

    def __init__(self, shared: SharedStore, head: int) -> None:
        self.shared = shared
        self.head = head


@pytest.fixture(scope="module")
def seeded_once(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[[str], Seeded]]:
    """The seeded store of a backend, made the first time a test asks for it."""
    made: dict[str, Seeded] = {}
    databases: list[str] = []

    def get(kind: str) -> Seeded:
        if kind not in made:
            env = {"MODELPLANE_HOME": str(tmp_path_factory.mktemp("seeded") / "home")}
            if kind == "postgres":
                name, url = create_database()
                databases.append(name)
                env["MODELPLANE_STORE_URL"] = url
            shared = SharedStore(kind, env | {"MODELPLANE_ACTOR": "tester"})
            with shared.active():
                head = seed(Store.current().registry, MODELS)
            made[kind] = Seeded(shared, head)
        return made[kind]

    yield get
    for name in databases:
        drop_database(name)


@pytest.fixture
def seeded(
    store: str, seeded_once: Callable[[str], Seeded], monkeypatch: pytest.MonkeyPatch
) -> Iterator[int]:
    """This test's store is a copy of the seeded one (about 29,000 events); its log head."""
    template = seeded_once(store)
    close_all()
    if store == "sqlite":
        source = Path(template.shared.env["MODELPLANE_HOME"]) / "modelplane.db"
        with sqlite3.connect(source) as conn:  # everything in the file, nothing in its WAL
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.close()
        home = Path(os.environ["MODELPLANE_HOME"])
        home.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, home / "modelplane.db")
        yield template.head
        return
    template_url = template.shared.env["MODELPLANE_STORE_URL"]
    name, url = create_database(template=template_url.rsplit("/", 1)[1])
    monkeypatch.setenv("MODELPLANE_STORE_URL", url)
    try:
        yield template.head
    finally:
        drop_database(name)


def _seeded_store() -> ProjectedRegistry:
    """The registry of this test's seeded store (see ``seeded``)."""
    return Store.current().registry


def _make_stale(engine: Engine) -> None:
    """Leave the store as a process of another modelplane version would find it."""
    with engine.begin() as conn:
        conn.execute(text("UPDATE mp_schema SET fingerprint = 'from-another-version'"))


def _live_fingerprint(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return conn.execute(sql_select(schema.c.fingerprint)).scalar()


def _shadow_tables(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(n for n in inspect(conn).get_table_names() if generations._TAG.search(n))


def _assert_equals_a_rebuild(registry: ProjectedRegistry) -> dict[str, Any]:
    """The live read tables track the log head and hold what a fresh rebuild folds."""
    with registry.engine.connect() as conn:
        head = registry.event_log.head(conn)
        assert set(runner.positions(conn).values()) == {head}
        live = dump_tables(conn)
    Client().rebuild_projections()
    with registry.engine.connect() as conn:
        assert dump_tables(conn) == live
    return live


def _stop_file(tmp_path: Path) -> Path:
    return tmp_path / "stop"


def test_readers_and_writers_go_on_while_an_upgrade_builds(
    store: str, seeded: int, tmp_path: Path
) -> None:
    registry, head = _seeded_store(), seeded
    stop = _stop_file(tmp_path)
    writer = Worker("write", "written", str(stop))
    writer.wait_for("ready")  # its model exists before the reader's first read
    reader = Worker("read", str(stop))
    with workers(reader, writer):
        reader.wait_for("ready")
        _make_stale(registry.engine)
        started = time.time()
        result = generations.upgrade_online(registry.engine, registry.event_log, registry.lock_log)
        ended = time.time()
        time.sleep(0.5)  # both go on after the swap too
        stop.touch()
        reads, writes = reader.finish(), writer.finish()

    assert result is not None and result.resumed_from == 0 and result.position > head
    assert _live_fingerprint(registry.engine) == FINGERPRINT
    assert _shadow_tables(registry.engine) == []
    building = (started, ended - result.swap_seconds)  # before the swap took the lock

    assert [r for r in reads if "error" in r] == []
    during = [r for r in reads if building[0] <= r["t0"] and r["t1"] <= building[1]]
    assert during, "no read was answered while the new tables were built"
    assert {(r["first"], r["total"], r["production"]) for r in reads} == {
        ("seeded00000", MODELS + 1, 20)  # the seeded models and the writer's, both stores
    }

    assert [r for r in writes if "error" in r] == []
    numbers = [r["number"] for r in writes]
    assert numbers == list(range(1, len(numbers) + 1))
    during = [r for r in writes if building[0] <= r["t0"] and r["t1"] <= building[1]]
    assert during, "writers waited for the whole build"
    after = [r for r in writes if r["t0"] >= ended]
    assert after, "no write after the swap"
    # every acknowledged write is in the log and in the new tables
    close_all()
    client = Client()
    versions = client.list_model_versions("written", size=10_000)
    assert sorted(v.number for v in versions) == numbers
    _assert_equals_a_rebuild(Store.current().registry)

    slowest = max(r["t1"] - r["t0"] for r in writes if r["t0"] < ended)
    print(  # the figures behind "writers wait only for the swap" (not asserted: timing)
        f"\n[{store}] {result.events} events folded in {ended - started:.2f}s; "
        f"{len(during)} writes during the build, slowest write {slowest * 1000:.0f} ms, "
        f"longest page {result.longest_page_seconds * 1000:.0f} ms, "
        f"swap {result.swap_seconds * 1000:.0f} ms"
    )


@pytest.mark.usefixtures("seeded")
def test_a_builder_killed_part_way_is_resumed_by_the_next(store: str) -> None:
    registry = _seeded_store()
    with registry.engine.connect() as conn:
        before = dump_tables(conn)
    _make_stale(registry.engine)
    with registry.engine.connect() as conn:
        stale = dump_tables(conn)

    builder = Worker("build", env={"MODELPLANE_TEST_PAGE": "500"})
    with workers(builder):
        builder.wait_for("ready")
        deadline = time.monotonic() + TIMEOUT
        while _shadow_position(registry.engine) < 2_000:  # a few pages in: mid-build
            assert time.monotonic() < deadline, "the build never got going"
            assert builder.proc.poll() is None, "the builder stopped on its own"
            time.sleep(0.01)
        builder.kill()
    assert builder.proc.returncode == -signal.SIGKILL

    # the live tables are as they were, still another version's; the shadow is left
    assert _live_fingerprint(registry.engine) == "from-another-version"
    with registry.engine.connect() as conn:
        assert dump_tables(conn) == stale
    assert _shadow_tables(registry.engine) != []

    # the next process resumes the build where the killed one stopped
    result = generations.upgrade_online(registry.engine, registry.event_log, registry.lock_log)
    assert result is not None and result.resumed_from >= 2_000
    assert _shadow_tables(registry.engine) == []
    close_all()
    assert _assert_equals_a_rebuild(Store.current().registry) == before


def _shadow_position(engine: Engine) -> int:
    """How far the build in progress has folded the log (0: not started)."""
    try:
        with engine.connect() as conn:
            tag = conn.execute(sql_select(generations.builds.c.tag)).scalar()
            if not tag:
                return 0
            shadow_tracking = generations.Generation(tag).tracking
            return int(conn.execute(sql_select(shadow_tracking.c.position)).scalar() or 0)
    except Exception:  # the build table or the shadow is being created
        return 0


@pytest.mark.usefixtures("seeded")
def test_a_process_opening_mid_build_waits_for_the_swap(
    store: str, caplog: pytest.LogCaptureFixture
) -> None:
    registry = _seeded_store()
    with registry.engine.connect() as conn:
        before = dump_tables(conn)
    _make_stale(registry.engine)
    close_all()

    builder = Worker("build", env={"MODELPLANE_TEST_PAGE": "200"})  # a slow build
    with workers(builder):
        builder.wait_for("ready")
        deadline = time.monotonic() + TIMEOUT
        while _shadow_position(registry.engine) == 0:
            assert time.monotonic() < deadline, "the build never got going"
            time.sleep(0.01)
        with caplog.at_level(logging.WARNING, logger="modelplane.projections"):
            model = Client().get_model("seeded00001")  # a new process's first read
        records = builder.finish()

    assert model.name == "seeded00001"
    assert "another process is rebuilding the read tables" in caplog.text
    # the builder swapped its tables in; the waiting process built none of its own
    (built,) = records
    assert built["result"] is not None and built["result"]["resumed_from"] == 0
    assert _live_fingerprint(registry.engine) == FINGERPRINT
    assert _shadow_tables(registry.engine) == []
    close_all()
    assert _assert_equals_a_rebuild(Store.current().registry) == before
