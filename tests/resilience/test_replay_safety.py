"""``replay --into PATH`` never destroys data: not the live store, not any other file.

The live store is recognised by identity (another spelling, a symlink, a hard link or a
relative path all name the same file); an existing file is replaced only if a replay wrote
it and ``overwrite`` is given; a refusal is a typed error (one line from the CLI) and the
log and the file are as they were. The output is built beside the target and renamed onto
it, so a replay that fails half-way leaves the previous output intact.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import make_url

from modelplane.client import Client
from modelplane.exceptions import ValidationError
from modelplane.store_handle import Store, close_all

EXE = str(Path(sys.executable).parent / "modelplane")

#: Only a SQLite store is a file that a replay could be pointed at.
SQLITE_ONLY = pytest.mark.parametrize("store", ["sqlite"], indirect=True)


def _fill(client: Client) -> int:
    """A few events; return the log's head."""
    return _fill_with_cut(client)[1]


def _fill_with_cut(client: Client) -> tuple[int, int]:
    """A few events; return a position between two commands and the log's head."""
    client.create_model("iris", tags=["a"])
    client.create_model_version("iris")
    cut = _head()
    client.create_model_version("iris", name="two")
    client.update_model_version("iris", 1, stage="production")
    return cut, _head()


def _head() -> int:
    """The log's head, read through a fresh handle (what a new process would see)."""
    close_all()
    store = Store.current()
    registry = store.registry
    with registry.engine.connect() as conn:
        return int(registry.event_log.head(conn))


def _assert_log_intact(head: int) -> None:
    assert _head() == head
    client = Client()
    assert [m.name for m in client.list_models()] == ["iris"]
    assert client.get_model_version("iris", "production").number == 1
    assert len(client.list_events(limit=1000)) == head


def _live_path() -> Path:
    database = make_url(Store.current().url).database
    assert database
    return Path(database)


def _replay_output_row(path: Path) -> tuple[int, int]:
    """(position, events) recorded in a replay output's marker table."""
    conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        row = conn.execute("SELECT position, events FROM mp_replay").fetchone()
    finally:
        conn.close()
    return int(row[0]), int(row[1])


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ) | {"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    return subprocess.run(
        [EXE, *args],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
        cwd=cwd,
    )


def _assert_refused(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


# ------------------------------------------------------------------ the live store


@SQLITE_ONLY
@pytest.mark.parametrize("spelling", ["plain", "symlink", "dotdot", "relative", "hardlink"])
def test_into_the_live_sqlite_store_is_refused_however_spelt(
    client: Client,
    store: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    spelling: str,
) -> None:
    head = _fill(client)
    live = _live_path()
    if spelling == "plain":
        into = str(live)
    elif spelling == "symlink":
        link = tmp_path / "link.db"
        link.symlink_to(live)
        into = str(link)
    elif spelling == "dotdot":
        into = str(live.parent / ".." / live.parent.name / live.name)
    elif spelling == "relative":
        monkeypatch.chdir(live.parent.parent)
        into = os.path.join(live.parent.name, live.name)
    else:
        hard = tmp_path / "hard.db"
        os.link(live, hard)
        into = str(hard)
    for overwrite in (False, True):
        with pytest.raises(ValidationError, match=r"live store|modelplane store"):
            Client().rebuild_projections(into=into, overwrite=overwrite)
        _assert_log_intact(head)


@SQLITE_ONLY
def test_into_the_live_stores_side_files_is_refused(client: Client, store: str) -> None:
    head = _fill(client)
    live = _live_path()
    for side in ("-wal", "-shm", "-journal"):
        with pytest.raises(ValidationError, match="live store"):
            Client().rebuild_projections(into=f"{live}{side}", overwrite=True)
        _assert_log_intact(head)


@SQLITE_ONLY
def test_cli_refuses_the_live_store_with_one_line(client: Client, store: str) -> None:
    head = _fill(client)
    live = _live_path()
    close_all()
    _assert_refused(_cli("replay", "--into", str(live)), "live store")
    _assert_refused(_cli("replay", "--into", str(live), "--overwrite"), "live store")
    relative = os.path.join(live.parent.name, ".", live.name)
    _assert_refused(_cli("replay", "--into", relative, cwd=live.parent.parent), "live store")
    _assert_log_intact(head)


# ------------------------------------------------------------------ other files


def test_an_existing_unrelated_file_is_never_replaced(client: Client, tmp_path: Path) -> None:
    head = _fill(client)
    precious = tmp_path / "notes.db"
    precious.write_bytes(b"my own notes, not a database\n")
    for overwrite in (False, True):
        with pytest.raises(ValidationError, match="not a replay output"):
            Client().rebuild_projections(into=precious, overwrite=overwrite)
        assert precious.read_bytes() == b"my own notes, not a database\n"
    # a SQLite database of someone else's is not a replay output either
    other = tmp_path / "other.sqlite"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE mp_models (x)")  # even one sharing a table name
    conn.execute("CREATE TABLE accounts (id INTEGER, balance REAL)")
    conn.execute("INSERT INTO accounts VALUES (1, 10.5)")
    conn.commit()
    conn.close()
    before = other.read_bytes()
    with pytest.raises(ValidationError, match="not a replay output"):
        Client().rebuild_projections(into=other, overwrite=True)
    assert other.read_bytes() == before
    _assert_log_intact(head)


def test_another_modelplane_store_is_never_replaced(client: Client, tmp_path: Path) -> None:
    from modelplane.projections.projected_registry import open_registry

    head = _fill(client)
    other = tmp_path / "other-store.db"
    registry = open_registry(f"sqlite:///{other}")
    registry.close()
    registry.engine.dispose()
    before = other.read_bytes()
    for overwrite in (False, True):
        with pytest.raises(ValidationError, match="modelplane store"):
            Client().rebuild_projections(into=other, overwrite=overwrite)
        assert other.read_bytes() == before
    _assert_log_intact(head)


def test_an_empty_file_is_replaced_only_with_overwrite(client: Client, tmp_path: Path) -> None:
    head = _fill(client)
    empty = tmp_path / "empty.db"
    empty.touch()
    with pytest.raises(ValidationError, match="--overwrite"):
        Client().rebuild_projections(into=empty)
    assert empty.read_bytes() == b""
    result = Client().rebuild_projections(into=empty, overwrite=True)
    assert result.position == head
    assert _replay_output_row(empty) == (head, head)


def test_a_directory_is_refused(client: Client, tmp_path: Path) -> None:
    _fill(client)
    (tmp_path / "dir").mkdir()
    with pytest.raises(ValidationError, match="directory"):
        Client().rebuild_projections(into=tmp_path / "dir", overwrite=True)
    assert list((tmp_path / "dir").iterdir()) == []


# ------------------------------------------------------------------ replay outputs


def test_overwrite_replaces_a_previous_replay_output(client: Client, tmp_path: Path) -> None:
    cut, head = _fill_with_cut(client)
    out = tmp_path / "out" / "past.db"
    first = Client().rebuild_projections(until=cut, into=out)
    assert first.position == cut and first.target == str(out)
    assert _replay_output_row(out) == (cut, cut)
    assert not Path(f"{out}-wal").exists()  # one self-contained file
    assert [p.name for p in out.parent.iterdir()] == ["past.db"]  # no temporary left behind
    before = out.read_bytes()

    with pytest.raises(ValidationError, match="--overwrite"):
        Client().rebuild_projections(into=out)
    assert out.read_bytes() == before

    second = Client().rebuild_projections(into=out, overwrite=True)
    assert second.position == head
    assert _replay_output_row(out) == (head, head)
    assert [p.name for p in out.parent.iterdir()] == ["past.db"]
    # through a symlink, the output itself is replaced and the link still points at it
    link = tmp_path / "link.db"
    link.symlink_to(out)
    Client().rebuild_projections(until=cut, into=link, overwrite=True)
    assert link.is_symlink() and _replay_output_row(out) == (cut, cut)
    _assert_log_intact(head)


def test_a_replay_failing_half_way_leaves_the_old_output(client: Client, tmp_path: Path) -> None:
    cut, head = _fill_with_cut(client)
    out = tmp_path / "out.db"
    Client().rebuild_projections(until=cut, into=out)
    before = out.read_bytes()

    class Interrupted(Exception):
        pass

    def progress(done: int, total: int) -> None:
        if done > 0:
            raise Interrupted

    with pytest.raises(Interrupted):
        Client().rebuild_projections(into=out, overwrite=True, progress=progress)
    assert out.read_bytes() == before
    assert _replay_output_row(out) == (cut, cut)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    _assert_log_intact(head)


def test_cli_overwrite_of_a_replay_output(client: Client, tmp_path: Path) -> None:
    cut, head = _fill_with_cut(client)
    close_all()
    out = tmp_path / "cli.db"
    first = _cli("replay", "--into", str(out), "--until", str(cut))
    assert first.returncode == 0, first.stderr
    _assert_refused(_cli("replay", "--into", str(out)), "--overwrite")
    assert _replay_output_row(out) == (cut, cut)
    again = _cli("replay", "--into", str(out), "--overwrite")
    assert again.returncode == 0, again.stderr
    assert "Traceback" not in again.stderr
    assert _replay_output_row(out) == (head, head)


# ------------------------------------------------------------------ unusable paths


def test_into_under_a_regular_file_is_a_typed_error(client: Client, tmp_path: Path) -> None:
    head = _fill(client)
    blocker = tmp_path / "a-file"
    blocker.write_text("keep me")
    for into in (blocker / "x.db", blocker / "deeper" / "x.db"):
        with pytest.raises(ValidationError, match="is a file, not a directory"):
            Client().rebuild_projections(into=into)
    assert blocker.read_text() == "keep me"
    close_all()
    _assert_refused(_cli("replay", "--into", str(blocker / "x.db")), "not a directory")
    _assert_log_intact(head)


@pytest.mark.skipif(not Path("/sys/kernel").is_dir(), reason="needs Linux sysfs")
def test_an_unwritable_target_is_a_typed_error(client: Client) -> None:
    # sysfs refuses new files even to root, unlike a chmod-ed directory
    head = _fill(client)
    with pytest.raises(ValidationError, match="cannot be"):
        Client().rebuild_projections(into="/sys/modelplane-replay.db")
    close_all()
    _assert_refused(_cli("replay", "--into", "/sys/modelplane-replay.db"), "cannot be")
    _assert_log_intact(head)
