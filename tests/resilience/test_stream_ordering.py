"""A reader that resumes "after the last position it saw" never skips an event, however many
processes append at once.

That is what ``GET /events/stream`` and ``follow_events`` rely on. It holds only because
appends are serialised: the log's write lock is taken before positions are handed out
(``projections/persistence.py``, ``projections/clock.py``), so no position becomes visible
before a smaller one. Were positions assigned outside the lock (a plain PostgreSQL sequence),
a transaction holding 10 could commit after one holding 11, and a reader that had seen 11
would never read 10. Here several writer processes (``tests.workers burst``) race while this
process reads after its last position as fast as it can; they are then killed mid-write
(which, on PostgreSQL, leaves holes in the sequence: gaps that are not lost events). What the
reader saw must be the whole log: every position once, in order.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from modelplane.client import Client
from modelplane.store_handle import close_all

pytestmark = pytest.mark.slow

WRITERS = 6
#: acknowledged writes each writer makes before the race ends (three per round)
WRITES_EACH = 60
DEADLINE = 120.0
ROOT = Path(__file__).resolve().parents[2]


def test_resuming_after_a_position_never_skips_an_event(store: str, tmp_path: Path) -> None:
    client = Client()
    client.list_models(size=1)  # the store exists before the writers open it
    outputs = [tmp_path / f"writer-{n}.out" for n in range(WRITERS)]
    procs = []
    for n, output in enumerate(outputs):
        with output.open("wb") as sink:
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "tests.workers", "burst", f"race-{n}"],
                    cwd=ROOT,
                    env=dict(os.environ),
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                )
            )
    seen: list[int] = []
    reads = 0
    try:
        deadline = time.monotonic() + DEADLINE
        while min(_acks(o) for o in outputs) < WRITES_EACH:
            assert time.monotonic() < deadline, [o.read_text()[-500:] for o in outputs]
            for proc, output in zip(procs, outputs, strict=True):
                assert proc.poll() is None, output.read_text()[-2000:]
            batch = client.list_events(after=seen[-1] if seen else 0, limit=200)
            seen += [e.position for e in batch]
            reads += 1
    finally:
        for proc in procs:  # mid-write, some of them: rolled back, never seen
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
    while batch := client.list_events(after=seen[-1] if seen else 0, limit=1000):
        seen += [e.position for e in batch]
    close_all()
    whole = [e.position for e in Client().list_events(after=0, limit=1_000_000)]
    assert len(seen) == len(set(seen)), "a position was read twice"
    missed = sorted(set(whole) - set(seen))
    assert not missed, f"the reader skipped {missed[:20]}"
    assert seen == whole
    assert reads > WRITERS  # the reader did read while the writers raced
    acknowledged = sum(_acks(o) for o in outputs)
    assert len(whole) >= acknowledged  # every acknowledged write is in the log


def _acks(output: Path) -> int:
    """Acknowledged writes a burst writer has printed (each appends; ``ready`` does not)."""
    text = output.read_text(errors="replace")
    return sum(
        1 for line in text.splitlines() if line.split(" ", 1)[0] in ("version", "promote", "meta")
    )
