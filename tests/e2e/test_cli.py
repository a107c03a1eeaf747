"""The ``modelplane`` command line, run as the installed console script in subprocesses.

Every test runs on SQLite and on PostgreSQL (the ``store`` fixture puts MODELPLANE_HOME /
MODELPLANE_STORE_URL / MODELPLANE_ACTOR into ``os.environ``; each subprocess inherits them).
Subprocesses are expensive (~0.5 s each), so assertions are grouped into a few scenarios.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from modelplane.projections.engine import make_engine
from modelplane.store_handle import Store, close_all
from tests.projection_tables import dump_tables

EXE = str(Path(sys.executable).parent / "modelplane")
TIMEOUT = 120


def _env() -> dict[str, str]:
    return dict(os.environ) | {"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}


def mp(*args: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess[str]:
    """Run the CLI with stdin not a terminal."""
    return subprocess.run(
        [EXE, *args],
        env=_env(),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )


def ok(*args: str) -> subprocess.CompletedProcess[str]:
    result = mp(*args)
    assert result.returncode == 0, (
        f"{args}: rc={result.returncode}\n{result.stdout}\n{result.stderr}"
    )
    assert "Traceback" not in result.stderr + result.stdout
    return result


def ok_json(*args: str) -> Any:
    return json.loads(ok(*args, "--json").stdout)


def fails(*args: str, code: int = 1, contains: tuple[str, ...] = ()) -> str:
    """Run a command that must be refused: exit ``code``, one ``Error`` line, no traceback."""
    result = mp(*args)
    assert result.returncode == code, (
        f"{args}: rc={result.returncode}\n{result.stdout}\n{result.stderr}"
    )
    both = result.stdout + result.stderr
    assert "Traceback" not in both, both
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    if code == 1:
        assert len(lines) == 1, f"{args}: expected one stderr line, got:\n{result.stderr}"
        assert lines[0].startswith("Error: "), result.stderr
    else:
        # usage errors: click prints usage + an "Error" line (possibly inside a box)
        assert any("Error" in line for line in lines), result.stderr
    for word in contains:
        assert word.lower() in result.stderr.lower(), f"{word!r} not in {result.stderr!r}"
    return result.stderr


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def live_dump() -> dict[str, list[tuple[Any, ...]]]:
    close_all()
    with Store.current().engine.connect() as conn:
        return dump_tables(conn)


def file_dump(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            return dump_tables(conn)
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- scenarios


def test_models_versions_promotion_history_and_events(store: str) -> None:
    model = ok_json(
        "model", "register", "iris", "--license", "MIT", "--description", "D", "-t", "a", "-t", "b"
    )
    assert model["name"] == "iris"
    assert model["license"] == "MIT"
    assert model["description"] == "D"
    assert model["tags"] == ["a", "b"]
    assert model["user"] == "tester"
    assert model["deleted"] is False

    listed = ok_json("model", "list")
    assert [m["name"] for m in listed["items"]] == ["iris"]
    assert listed["total"] == 1
    assert ok_json("model", "describe", "iris")["id"] == model["id"]

    updated = ok_json(
        "model", "update", "iris", "--add-tag", "c", "--remove-tag", "a", "--description", "X"
    )
    assert updated["tags"] == ["b", "c"]
    assert updated["description"] == "X"
    assert updated["license"] == "MIT"
    described = ok_json("model", "describe", "iris")
    assert described["tags"] == ["b", "c"] and described["description"] == "X"

    v1 = ok_json("model", "version", "create", "iris")
    assert (v1["number"], v1["name"], v1["stage"]) == (1, "1", "none")
    v2 = ok_json("model", "version", "create", "iris", "--name", "1.2.3")
    assert (v2["number"], v2["name"], v2["stage"]) == (2, "1.2.3", "none")
    assert v2["model_name"] == "iris"

    versions = ok_json("model", "version", "list", "iris")
    assert [v["number"] for v in versions["items"]] == [2, 1]  # newest first
    assert ok_json("model", "describe", "iris")["latest_version_name"] == "1.2.3"

    # promote 1; the production filter and the stage selector see it
    promoted = ok_json(
        "model", "version", "update", "iris", "1", "--stage", "production", "--reason", "r"
    )
    assert promoted["stage"] == "production"
    prod = ok_json("model", "version", "list", "iris", "--stage", "production")
    assert [v["name"] for v in prod["items"]] == ["1"]
    assert ok_json("model", "version", "describe", "iris", "production")["name"] == "1"
    assert ok_json("model", "version", "describe", "iris", "1.2.3")["number"] == 2
    assert ok_json("model", "version", "describe", "iris", "2")["name"] == "1.2.3"

    # refused promotion into the occupied stage (stdin is not a TTY): nothing changes
    history_before = ok_json("model", "history", "iris")
    events_before = json_lines(ok("events", "--json").stdout)
    error = fails("model", "version", "update", "iris", "1.2.3", "--stage", "production")
    assert "production" in error and "'1'" in error
    assert ok_json("model", "history", "iris") == history_before
    assert json_lines(ok("events", "--json").stdout) == events_before
    assert ok_json("model", "version", "describe", "iris", "production")["name"] == "1"
    assert ok_json("model", "version", "describe", "iris", "1.2.3")["stage"] == "none"

    # forced promotion archives the old holder
    forced = ok_json(
        "model",
        "version",
        "update",
        "iris",
        "1.2.3",
        "--stage",
        "production",
        "--force",
        "--reason",
        "x",
    )
    assert forced["stage"] == "production"
    by_stage = {v["name"]: v["stage"] for v in ok_json("model", "version", "list", "iris")["items"]}
    assert by_stage == {"1": "archived", "1.2.3": "production"}

    history = ok_json("model", "history", "iris")
    assert [(h["version"], h["previous_stage"], h["stage"]) for h in history] == [
        ("1", "none", "production"),
        ("1", "production", "archived"),
        ("1.2.3", "none", "production"),
    ]
    positions = [h["position"] for h in history]
    assert positions == sorted(positions) and len(set(positions)) == 3
    for entry in history:
        assert {
            "actor",
            "reason",
            "previous_stage",
            "displaced_version",
            "position",
        } <= entry.keys()
        assert entry["actor"] == "tester"
    assert history[0]["reason"] == "r" and history[0]["displaced_version"] is None
    assert "1.2.3" in history[1]["reason"] and "x" in history[1]["reason"]
    assert history[2]["reason"] == "x" and history[2]["displaced_version"] == "1"

    # time travel: at the first promotion's position, 1 held production and was in it
    first = history[0]["position"]
    then = ok_json("model", "version", "describe", "iris", "production", "--at", str(first))
    assert then["name"] == "1" and then["stage"] == "production"
    then_v1 = ok_json("model", "version", "describe", "iris", "1", "--at", str(first))
    assert then_v1["stage"] == "production"
    assert (
        ok_json("model", "version", "describe", "iris", "1.2.3", "--at", str(first))["stage"]
        == "none"
    )
    now = ok_json(
        "model", "version", "describe", "iris", "production", "--at", str(history[2]["position"])
    )
    assert now["name"] == "1.2.3"

    # the raw log, for this model
    events = json_lines(ok("events", "--model", "iris", "--json").stdout)
    for event in events:
        assert {"position", "type", "timestamp", "actor", "payload"} <= event.keys()
    ev_positions = [e["position"] for e in events]
    assert ev_positions == sorted(ev_positions) and len(set(ev_positions)) == len(ev_positions)
    types = [e["type"] for e in events]
    assert "Model.Registered" in types
    assert types.count("Model.StageChanged") == 3
    stage_positions = [e["position"] for e in events if e["type"] == "Model.StageChanged"]
    assert stage_positions == positions
    assert ok("events", "--model", "iris", "--json", "--limit", "2").stdout.count("\n") == 2
    limited = json_lines(ok("events", "--json", "--limit", "3").stdout)
    assert [e["position"] for e in limited] == [1, 2, 3]

    # the table output works too (no JSON)
    table = ok("model", "history", "iris").stdout
    assert "1.2.3" in table and "archived" in table


def _pty_promote(answer: str) -> tuple[int, str]:
    return _pty_update(answer, "model", "version", "update", "tty", "2", "--stage", "production")


def _pty_update(answer: str, *args: str) -> tuple[int, str]:
    """Run a promotion into an occupied stage with stdin on a pseudo-terminal."""
    master, slave = os.openpty()
    try:
        proc = subprocess.Popen(
            [EXE, *args],
            env=_env(),
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        os.close(slave)
        slave = -1
        # wait for the question before answering (the prompt goes to stdout, a pipe)
        seen = b""
        deadline = time.monotonic() + TIMEOUT
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        while b"anyway?" not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 1.0)
            if ready:
                chunk = os.read(fd, 4096)
                if not chunk:
                    break
                seen += chunk
        assert b"anyway?" in seen, seen.decode(errors="replace")
        os.write(master, f"{answer}\n".encode())
        rest, _ = proc.communicate(timeout=TIMEOUT)
        return proc.returncode, (seen + rest).decode(errors="replace")
    finally:
        if slave != -1:
            os.close(slave)
        os.close(master)


def test_promotion_prompt_on_a_terminal(store: str) -> None:
    ok("model", "register", "tty")
    ok("model", "version", "create", "tty")
    ok("model", "version", "create", "tty")
    ok("model", "version", "update", "tty", "1", "--stage", "production")

    code, output = _pty_promote("n")
    assert code == 0, output
    assert "Traceback" not in output
    assert "held by version '1'" in output
    assert ok_json("model", "version", "describe", "tty", "production")["name"] == "1"
    assert len(ok_json("model", "history", "tty")) == 1

    code, output = _pty_promote("y")
    assert code == 0, output
    assert "Traceback" not in output
    assert ok_json("model", "version", "describe", "tty", "production")["name"] == "2"
    assert ok_json("model", "version", "describe", "tty", "1")["stage"] == "archived"
    assert [(h["version"], h["stage"]) for h in ok_json("model", "history", "tty")] == [
        ("1", "production"),
        ("1", "archived"),
        ("2", "production"),
    ]


def test_events_follow(store: str) -> None:
    ok("model", "register", "followed")
    head = json_lines(ok("events", "--json", "--limit", "1000").stdout)[-1]["position"]
    proc = subprocess.Popen(
        [EXE, "events", "--follow", "--json", "--after", str(head)],
        env=_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        time.sleep(0.5)
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        ok("model", "version", "create", "followed")  # a write from outside the follower
        got: list[dict[str, Any]] = []
        fd = proc.stdout.fileno()
        deadline = time.monotonic() + 60
        buffer = ""
        while time.monotonic() < deadline and not any(
            e["type"] == "ModelVersion.Created" for e in got
        ):
            ready, _, _ = select.select([fd], [], [], 1.0)
            if ready:
                chunk = os.read(fd, 65536).decode()
                if not chunk:
                    break
                buffer += chunk
                *complete, buffer = buffer.split("\n")
                got += [json.loads(line) for line in complete if line.strip()]
        types = [e["type"] for e in got]
        assert "ModelVersion.Created" in types, types
        assert all(e["position"] > head for e in got)
        assert proc.poll() is None  # still following
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    stderr = proc.stderr.read() if proc.stderr else ""
    assert "Traceback" not in stderr, stderr


def test_replay_live_into_and_until(store: str, tmp_path: Path) -> None:
    ok("model", "register", "rp", "-t", "x")
    ok("model", "version", "create", "rp")
    ok("model", "version", "create", "rp", "--name", "two")
    ok("model", "version", "update", "rp", "1", "--stage", "production", "--reason", "first")
    middle = ok_json("model", "history", "rp")[-1]["position"]
    ok("model", "version", "update", "rp", "two", "--stage", "production", "--force")
    ok("model", "update", "rp", "--description", "later")

    before = live_dump()
    result = ok("replay")
    assert "Replayed" in result.stderr and "events" in result.stderr
    assert live_dump() == before

    into = tmp_path / "out" / "replayed.db"
    result = ok("replay", "--into", str(into))
    assert "Replayed" in result.stderr
    assert into.exists()
    assert file_dump(into) == before
    # the live tables were not touched
    assert live_dump() == before

    past = tmp_path / "past.db"
    ok("replay", "--until", str(middle), "--into", str(past))
    engine = make_engine(f"sqlite:///{past}")
    try:
        with engine.connect() as conn:
            rows = conn.exec_driver_sql(
                "SELECT name, stage FROM mp_model_versions ORDER BY number"
            ).all()
            assert [tuple(r) for r in rows] == [("1", "production"), ("two", "none")]
            described = conn.exec_driver_sql("SELECT description FROM mp_models").scalar()
            assert described is None
            changes = conn.exec_driver_sql("SELECT max(position) FROM mp_stage_changes").scalar()
            assert changes == middle
            tracked = {
                r[0] for r in conn.exec_driver_sql("SELECT DISTINCT position FROM mp_tracking")
            }
            assert tracked == {middle + 1}  # the transaction ends with the version's StageSet
    finally:
        engine.dispose()
    # and the same state as the live time-travel query
    assert (
        ok_json("model", "version", "describe", "rp", "production", "--at", str(middle))["name"]
        == "1"
    )


def test_delete_model_and_version(store: str) -> None:
    ok("model", "register", "gone", "--description", "first life")
    ok("model", "version", "create", "gone")
    ok("model", "version", "create", "gone")
    ok("model", "version", "update", "gone", "1", "--stage", "staging", "--reason", "life1")

    # version delete: refused without -y, done with -y, then a clear error
    fails("model", "version", "delete", "gone", "2", contains=("-y",))
    assert ok_json("model", "version", "describe", "gone", "2")["number"] == 2
    ok("model", "version", "delete", "gone", "2", "-y")
    fails("model", "version", "delete", "gone", "2", "-y", contains=("2",))
    assert [v["number"] for v in ok_json("model", "version", "list", "gone")["items"]] == [1]
    # numbers are never reused
    assert ok_json("model", "version", "create", "gone")["number"] == 3

    # model delete without -y and without a terminal: refused, still there
    fails("model", "delete", "gone", contains=("-y",))
    assert ok_json("model", "describe", "gone")["name"] == "gone"
    first_id = ok_json("model", "describe", "gone")["id"]
    ok("model", "delete", "gone", "-y", "--reason", "retired")
    fails("model", "describe", "gone", contains=("gone",))
    assert ok_json("model", "list")["total"] == 0

    # history survives the deletion; the holder's leaving its stage is in it
    history = ok_json("model", "history", "gone")
    assert [(h["version"], h["stage"], h["reason"]) for h in history] == [
        ("1", "staging", "life1"),
        ("1", "deleted", "retired"),
    ]

    # a second life under the same name; events show both
    second = ok_json("model", "register", "gone", "--description", "second life")
    assert second["id"] != first_id
    ok("model", "version", "create", "gone")
    assert ok_json("model", "version", "describe", "gone", "latest")["number"] == 1
    events = json_lines(ok("events", "--model", "gone", "--json", "--limit", "1000").stdout)
    registered = [e for e in events if e["type"] == "Model.Registered"]
    assert [e["payload"]["fields"]["description"] for e in registered] == [
        "first life",
        "second life",
    ]
    assert any(e["type"] == "Model.Deleted" for e in events)
    model_ids = {e.get("model_id") for e in events} - {None}
    assert model_ids == {first_id, second["id"]}
    assert len(ok_json("model", "history", "gone")) == 2


def test_error_paths(store: str) -> None:
    ok("model", "register", "err")
    ok("model", "version", "create", "err", "--name", "alpha")
    ok("model", "version", "create", "err")
    before = json_lines(ok("events", "--json", "--limit", "1000").stdout)

    fails("model", "describe", "nope", contains=("nope",))
    fails("model", "version", "list", "nope", contains=("nope",))
    fails("model", "version", "describe", "err", "99", contains=("99",))
    fails("model", "version", "describe", "err", "beta", contains=("beta",))
    fails("model", "version", "update", "err", "99", "--stage", "staging", contains=("99",))
    fails("model", "register", "err", contains=("err", "exists"))
    fails("model", "version", "create", "err", "--name", "alpha", contains=("alpha",))
    fails("model", "register", "", contains=("empty",))
    fails("model", "register", "n" * 300, contains=("300", "255"))
    fails("model", "version", "create", "err", "--name", "42", contains=("42",))
    fails("model", "version", "create", "err", "--name", "production", contains=("production",))
    fails("model", "version", "update", "err", "alpha", "--stage", "latest", contains=("latest",))
    fails("model", "version", "update", "err", "alpha", "--stage", "bogus", contains=("bogus",))
    fails("model", "version", "list", "err", "--stage", "bogus", contains=("bogus",))
    fails(
        "model", "version", "describe", "err", "alpha", "--at", "yesterday", contains=("yesterday",)
    )
    # usage errors (typer/click): exit 2
    fails("model", "version", "create", code=2)
    fails("model", "frobnicate", code=2)
    fails("events", "--limit", "0", code=2)

    # promoting a deleted version
    ok("model", "version", "delete", "err", "2", "-y")
    fails("model", "version", "update", "err", "2", "--stage", "production", contains=("2",))

    after = json_lines(ok("events", "--json", "--limit", "1000").stdout)
    # nothing but the version deletion was appended by all of the above
    assert after[: len(before)] == before
    assert [e["type"] for e in after[len(before) :]] == [
        "Model.VersionDeleted",
        "ModelVersion.Deleted",
    ]
