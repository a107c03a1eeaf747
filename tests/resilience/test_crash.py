"""SIGKILL a writer mid-burst: every acknowledged write survives and the store stays consistent.

The writer (``python -m tests.workers burst MODEL``) prints one line after each write the
registry acknowledged; the test kills it with SIGKILL after some number of lines (while it is
still writing), then checks from a fresh connection that the log has every acknowledged
write, that the read tables equal a rebuild from the log, that every projection tracks the
log head, and that the store takes new writes.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path
from uuid import UUID

import pytest

from modelplane.client import Client
from modelplane.projections import runner
from modelplane.store_handle import Store, close_all
from tests.projection_tables import dump_tables

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 180
MODEL = "crashy"


def _burst_until(lines_wanted: int) -> list[list[str]]:
    """Run the writer until it acknowledged ``lines_wanted`` writes; SIGKILL it; its lines."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.workers", "burst", MODEL],
        cwd=ROOT,
        env=dict(os.environ),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    fd = proc.stdout.fileno()
    buffer = b""
    lines: list[list[str]] = []
    deadline = time.monotonic() + TIMEOUT
    try:
        while len(lines) < lines_wanted:
            assert time.monotonic() < deadline, f"writer too slow: {len(lines)} writes"
            assert proc.poll() is None, proc.stderr.read().decode(errors="replace")
            ready, _, _ = select.select([fd], [], [], 1.0)
            if not ready:
                continue
            chunk = os.read(fd, 65536)
            buffer += chunk
            *complete, buffer = buffer.split(b"\n")
            lines += [line.decode().split() for line in complete if line and line != b"ready"]
        # still mid-burst: it keeps writing until the signal lands
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    # lines printed between our last read and the kill were acknowledged too
    rest = proc.stdout.read()
    buffer += rest
    lines += [line.decode().split() for line in buffer.split(b"\n") if line and line != b"ready"]
    # a line cut by the kill is not an acknowledgement we can parse; drop it
    return [line for line in lines if _complete(line)]


def _complete(line: list[str]) -> bool:
    kinds = {"version": 3, "promote": 4, "meta": 3}
    return bool(line) and line[0] in kinds and len(line) == kinds[line[0]]


def _check_store(acknowledged: list[list[str]]) -> None:
    close_all()
    client = Client()
    store = Store.current()
    versions = {v.number: v for v in client.list_model_versions(MODEL, size=10_000)}
    history = {h.position: h for h in client.get_stage_history(MODEL)}
    for line in acknowledged:
        kind, number = line[0], int(line[1])
        assert number in versions, f"acknowledged {line} is lost"
        version = versions[number]
        if kind == "version":
            assert version.id == UUID(line[2])
        elif kind == "promote":
            # the position acknowledged is the transaction's last event: the versions' own
            # StageSet follow the model's move (two of them when a holder was displaced)
            end = int(line[2])
            moves = [
                h.position
                for h in history.values()
                if h.version == str(number) and h.stage.value == line[3] and h.position <= end
            ]
            assert moves, f"acknowledged promotion {line} is lost"
            assert end - max(moves) <= 2, f"acknowledged promotion {line} is lost"
        else:
            positions = [e.position for e in version.run_metadata["step"].history]
            assert int(line[2]) in positions, f"acknowledged metadata {line} is lost"
    # at most one holder per exclusive stage
    for stage in ("production", "staging"):
        assert len(client.list_model_versions(MODEL, stage=stage)) <= 1

    registry = store.registry
    with registry.engine.connect() as conn:
        head = registry.event_log.head(conn)
        tracked = runner.positions(conn)
    assert set(tracked) == {p.name for p in runner.PROJECTIONS}
    assert all(position == head for position in tracked.values()), (tracked, head)
    assert head >= max(int(line[2]) for line in acknowledged if line[0] != "version")

    with store.engine.connect() as conn:
        before = dump_tables(conn)
    client.rebuild_projections()
    with store.engine.connect() as conn:
        assert dump_tables(conn) == before


def test_sigkill_mid_burst_loses_no_acknowledged_write(store: str) -> None:
    acknowledged: list[list[str]] = []
    for wanted in (30, 47, 64):  # kill after a different number of writes each round
        acknowledged += _burst_until(wanted)
        _check_store(acknowledged)

    # the store takes writes after the crashes, from this process and from another one
    client = Client()
    before = client.get_model_version(MODEL).number
    created = client.create_model_version(MODEL)
    assert created.number == before + 1
    promoted = client.update_model_version(MODEL, created.number, stage="production", force=True)
    assert promoted.stage.value == "production"
    assert client.get_model_version(MODEL, "production").number == created.number
    acknowledged += _burst_until(5)
    _check_store(acknowledged)
    assert len(acknowledged) >= 30 + 47 + 64 + 5
