"""Time travel answers what a reader saw then: whole transactions, commit-time dates, old names.

Integration tests on both stores (the ``client`` fixture). The contention test holds the log's
write lock from a raw database connection while another OS process writes, which is what
made a write look older than it was.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg
import pytest

from modelplane.client import Client
from modelplane.enums import ModelStages
from modelplane.exceptions import NotFoundError

REPO = Path(__file__).resolve().parents[2]


def _forced_promotion(client: Client) -> tuple[int, int, int]:
    """v1 in production, then v2 forced in: the two moves' positions and the position of
    the transaction's last event (each version's ``StageSet`` follows the moves)."""
    client.create_model("iris")
    client.create_model_version("iris")
    client.create_model_version("iris")
    client.update_model_version("iris", 1, stage="production")
    client.update_model_version("iris", 2, stage="production", force=True)
    archive, promote = client.get_stage_history("iris")[-2:]
    assert archive.version == "1" and promote.version == "2"
    return archive.position, promote.position, client.list_events()[-1].position


def test_a_position_inside_a_transaction_means_its_end(client: Client) -> None:
    archived_at, promoted_at, end = _forced_promotion(client)
    assert archived_at + 1 == promoted_at < end
    # Between the two events nobody held production, but no reader could ever see that.
    inside = client.get_model_version("iris", ModelStages.PRODUCTION, at=archived_at)
    assert inside.name == "2" and inside.as_of == end
    before = client.get_model_version("iris", ModelStages.PRODUCTION, at=archived_at - 1)
    assert before.name == "1"


def test_replay_until_a_position_inside_a_transaction_takes_all_of_it(
    client: Client, tmp_path: Path
) -> None:
    archived_at, _, end = _forced_promotion(client)
    result = client.rebuild_projections(until=archived_at, into=tmp_path / "past.db")
    assert result.position == end
    with sqlite3.connect(tmp_path / "past.db") as db:
        held = db.execute(
            "SELECT name, stage FROM mp_model_versions WHERE stage != 'none' ORDER BY name"
        ).fetchall()
    assert held == [("1", "archived"), ("2", "production")]


def test_a_position_past_the_head_is_the_head(client: Client) -> None:
    client.create_model("iris")
    client.create_model_version("iris")
    head = client.list_events()[-1].position
    found = client.get_model_version("iris", 1, at=head + 10**6)
    assert found.as_of == head


def test_names_resolve_as_they_were_at_that_position(client: Client) -> None:
    client.create_model("iris")
    client.create_model_version("iris", name="first", description="old text", tags=["a"])
    before = client.list_events()[-1].position
    client.update_model_version(
        "iris", "first", name="renamed", description="new text", add_tags=["b"]
    )
    then = client.get_model_version("iris", "first", at=before)
    assert (then.name, then.description, then.tags) == ("first", "old text", ["a"])
    with pytest.raises(NotFoundError):
        client.get_model_version("iris", "renamed", at=before)
    now = client.get_model_version("iris", "renamed", at=client.list_events()[-1].position)
    assert (now.name, now.description, now.tags) == ("renamed", "new text", ["a", "b"])
    with pytest.raises(NotFoundError):
        client.get_model_version("iris", "first", at=client.list_events()[-1].position)
    # by number and by stage, the version shows itself as it was then too
    assert client.get_model_version("iris", 1, at=before).name == "first"


def test_a_name_reused_after_a_rename_finds_the_version_that_had_it(client: Client) -> None:
    client.create_model("iris")
    client.create_model_version("iris", name="a")
    at_first = client.list_events()[-1].position
    client.update_model_version("iris", "a", name="b")
    client.create_model_version("iris", name="a")
    assert client.get_model_version("iris", "a", at=at_first).number == 1
    assert client.get_model_version("iris", "a").number == 2


@pytest.fixture
def new_york_local_time() -> Iterator[None]:
    """A process whose local zone is not UTC (restored afterwards)."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = "America/New_York"
    time.tzset()
    try:
        yield
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


@pytest.mark.usefixtures("new_york_local_time")
def test_naive_datetimes_are_utc(client: Client) -> None:
    client.create_model("iris")
    client.create_model_version("iris")
    client.update_model_version("iris", 1, stage="production")
    promoted = client.get_stage_history("iris")[-1].timestamp
    naive_utc = promoted.astimezone(UTC).replace(tzinfo=None)
    assert client.get_model_version("iris", "production", at=naive_utc).name == "1"
    with pytest.raises(NotFoundError):
        client.get_model_version("iris", "production", at=naive_utc - timedelta(microseconds=1))
    # the same instant in another zone answers the same
    elsewhere = promoted.astimezone(ZoneInfo("Asia/Kolkata"))
    assert client.get_model_version("iris", "production", at=elsewhere).name == "1"


def test_timestamps_increase_with_position_and_a_transaction_shares_one(client: Client) -> None:
    _forced_promotion(client)
    events = client.list_events()
    stamps = [e.timestamp for e in events]
    assert stamps == sorted(stamps)
    archive, promote = events[-2:]
    assert archive.timestamp == promote.timestamp
    assert len({e.timestamp for e in events}) < len(events)


def _hold_write_lock(store: str, seconds: float) -> tuple[float, float]:
    """Hold the log's write lock from a raw connection; returns (taken, released) times."""
    url = os.environ.get("MODELPLANE_STORE_URL")
    if store == "sqlite":
        path = Path(os.environ["MODELPLANE_HOME"]) / "modelplane.db"
        db = sqlite3.connect(path, isolation_level=None)
        db.execute("BEGIN IMMEDIATE")
        taken = time.time()
        time.sleep(seconds)
        released = time.time()
        db.execute("ROLLBACK")
        db.close()
        return taken, released
    assert url is not None
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute("LOCK TABLE modelplane_events IN EXCLUSIVE MODE")
        taken = time.time()
        time.sleep(seconds)
        released = time.time()
        conn.rollback()
    return taken, released


@pytest.mark.slow
def test_a_write_that_waited_is_dated_when_it_became_visible(client: Client, store: str) -> None:
    client.create_model("iris")
    client.create_model_version("iris")
    script = (
        "from modelplane.client import Client\n"
        "from modelplane.store_handle import Store\n"
        "c = Client(); _ = Store.current().registry\n"
        "print('ready', flush=True); input()\n"
        "c.update_model_version('iris', 1, stage='production')\n"
    )
    worker = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert worker.stdout is not None and worker.stdin is not None
        assert worker.stdout.readline().strip() == "ready"
        import threading

        times: list[tuple[float, float]] = []
        holder = threading.Thread(target=lambda: times.append(_hold_write_lock(store, 1.5)))
        holder.start()
        time.sleep(0.3)  # the lock is held: now the worker triggers its promotion and waits
        worker.stdin.write("\n")
        worker.stdin.flush()
        holder.join()
        assert worker.wait(timeout=120) == 0
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    _, released = times[0]
    promoted = client.get_stage_history("iris")[-1].timestamp
    assert promoted.timestamp() >= released - 0.01, "dated before it became visible"
    # A reader polling while the lock was held saw no production holder; time travel agrees.
    while_held = datetime.fromtimestamp(released - 0.2, UTC)
    with pytest.raises(NotFoundError):
        client.get_model_version("iris", "production", at=while_held)
