"""The ``modelplane`` command line, run as the installed console script in subprocesses.

Subprocesses are expensive (about 0.5 s each; 1 s for a command that writes), so:

- The walk through registering, versioning and promoting one model runs once per store (the
  module-scoped ``walk`` fixture, on a ``module_store`` of its own); each ``test_walk_*``
  checks one behaviour of what it printed, and runs only the reads that test alone needs.
- Other tests write the state they start from through the SDK in this process, and run the
  CLI only for the behaviour they are about.
- Tests about the CLI itself, where the store plays no part (arguments refused before
  anything is read, the terminal prompt), run on SQLite only; everything that reads or writes
  a store runs on SQLite and on PostgreSQL.

The ``store`` fixture puts MODELPLANE_HOME / MODELPLANE_STORE_URL / MODELPLANE_ACTOR into
``os.environ``; each subprocess inherits them.
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from modelplane.client import Client
from modelplane.projections.engine import make_engine
from modelplane.store_handle import Store, close_all
from tests.conftest import SharedStore
from tests.log_reading import log_head
from tests.projection_tables import dump_tables

EXE = str(Path(sys.executable).parent / "modelplane")
TIMEOUT = 120
#: For tests about the CLI alone: the ``store`` fixture on SQLite only.
SQLITE_ONLY = pytest.mark.parametrize("store", ["sqlite"], indirect=True)


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


def _log(client: Client) -> list[Any]:
    return client.list_events(limit=10_000)


# ------------------------------------------------ the walk: register, version, promote


@pytest.fixture(scope="module")
def walk(module_store: SharedStore) -> dict[str, Any]:
    """One model taken through the CLI, once per store: what each step printed.

    Steps whose output depends on the moment (the reads around the refused promotion) are
    read here, in order; what the finished walk shows is read once, for every test.
    """
    seen: dict[str, Any] = {}
    with module_store.active():
        seen["registered"] = ok_json(
            "model", "register", "iris", "--license", "MIT", "--description", "D", "-t", "a",
            "-t", "b",
        )  # fmt: skip
        seen["updated"] = ok_json(
            "model", "update", "iris", "--add-tag", "c", "--remove-tag", "a", "--description", "X"
        )
        seen["v1"] = ok_json("model", "version", "create", "iris")
        seen["v2"] = ok_json("model", "version", "create", "iris", "--name", "1.2.3")
        seen["promoted"] = ok_json(
            "model", "version", "update", "iris", "1", "--stage", "production", "--reason", "r"
        )
        # refused promotion into the occupied stage (stdin is not a TTY)
        seen["history_before_refusal"] = ok_json("model", "history", "iris")
        seen["events_before_refusal"] = json_lines(ok("events", "--json").stdout)
        seen["refusal"] = fails(
            "model", "version", "update", "iris", "1.2.3", "--stage", "production"
        )
        seen["history_after_refusal"] = ok_json("model", "history", "iris")
        seen["events_after_refusal"] = json_lines(ok("events", "--json").stdout)
        seen["in_production"] = ok_json("model", "version", "list", "iris", "--stage", "production")
        seen["production"] = ok_json("model", "version", "describe", "iris", "production")
        seen["named_1.2.3"] = ok_json("model", "version", "describe", "iris", "1.2.3")
        seen["forced"] = ok_json(
            "model", "version", "update", "iris", "1.2.3", "--stage", "production", "--force",
            "--reason", "x",
        )  # fmt: skip
        # the finished walk
        seen["models"] = ok_json("model", "list")
        seen["described"] = ok_json("model", "describe", "iris")
        seen["versions"] = ok_json("model", "version", "list", "iris")
        seen["history"] = ok_json("model", "history", "iris")
        seen["events"] = json_lines(ok("events", "--model", "iris", "--json").stdout)
    return seen


@pytest.fixture
def walked(module_store: SharedStore, walk: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The walk's outputs, with this process pointed at its store for further reads."""
    with module_store.active():
        yield walk


def test_walk_register_prints_every_field(walked: dict[str, Any]) -> None:
    model = walked["registered"]
    assert model["name"] == "iris"
    assert model["license"] == "MIT"
    assert model["description"] == "D"
    assert model["tags"] == ["a", "b"]
    assert model["user"] == "tester"
    assert model["deleted"] is False


def test_walk_list_and_describe_find_the_model(walked: dict[str, Any]) -> None:
    listed = walked["models"]
    assert [m["name"] for m in listed["items"]] == ["iris"]
    assert listed["total"] == 1
    assert walked["described"]["id"] == walked["registered"]["id"]


def test_walk_update_edits_tags_and_description_and_keeps_the_rest(
    walked: dict[str, Any],
) -> None:
    updated = walked["updated"]
    assert updated["tags"] == ["b", "c"]
    assert updated["description"] == "X"
    assert updated["license"] == "MIT"
    described = walked["described"]  # read back by another process
    assert described["tags"] == ["b", "c"] and described["description"] == "X"


def test_walk_versions_count_up_and_take_a_name(walked: dict[str, Any]) -> None:
    v1, v2 = walked["v1"], walked["v2"]
    assert (v1["number"], v1["name"], v1["stage"]) == (1, "1", "none")
    assert (v2["number"], v2["name"], v2["stage"]) == (2, "1.2.3", "none")
    assert v2["model_name"] == "iris"
    assert [v["number"] for v in walked["versions"]["items"]] == [2, 1]  # newest first
    assert walked["described"]["latest_version_name"] == "1.2.3"


def test_walk_a_promotion_is_seen_by_the_stage_filter_and_selector(
    walked: dict[str, Any],
) -> None:
    assert walked["promoted"]["stage"] == "production"
    assert [v["name"] for v in walked["in_production"]["items"]] == ["1"]
    assert walked["production"]["name"] == "1"


def test_walk_versions_are_found_by_name_and_by_number(walked: dict[str, Any]) -> None:
    assert walked["named_1.2.3"]["number"] == 2
    assert ok_json("model", "version", "describe", "iris", "2")["name"] == "1.2.3"


def test_walk_a_refused_promotion_changes_nothing(walked: dict[str, Any]) -> None:
    error = walked["refusal"]
    assert "production" in error and "'1'" in error
    assert walked["history_after_refusal"] == walked["history_before_refusal"]
    assert walked["events_after_refusal"] == walked["events_before_refusal"]
    assert walked["production"]["name"] == "1"
    assert walked["named_1.2.3"]["stage"] == "none"


def test_walk_a_forced_promotion_archives_the_holder(walked: dict[str, Any]) -> None:
    assert walked["forced"]["stage"] == "production"
    by_stage = {v["name"]: v["stage"] for v in walked["versions"]["items"]}
    assert by_stage == {"1": "archived", "1.2.3": "production"}


def test_walk_history_names_the_moves_actor_reason_and_displaced(walked: dict[str, Any]) -> None:
    history = walked["history"]
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


def test_walk_time_travel_with_at(walked: dict[str, Any]) -> None:
    """At the first promotion's position, 1 held production and was in it."""
    history = walked["history"]
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


def test_walk_events_are_the_models_log(walked: dict[str, Any]) -> None:
    events = walked["events"]
    for event in events:
        assert {"position", "type", "timestamp", "actor", "payload"} <= event.keys()
    ev_positions = [e["position"] for e in events]
    assert ev_positions == sorted(ev_positions) and len(set(ev_positions)) == len(ev_positions)
    types = [e["type"] for e in events]
    assert "Model.Registered" in types
    assert types.count("Model.StageChanged") == 3
    stage_positions = [e["position"] for e in events if e["type"] == "Model.StageChanged"]
    assert stage_positions == [h["position"] for h in walked["history"]]


def test_walk_events_limit(walked: dict[str, Any]) -> None:
    assert ok("events", "--model", "iris", "--json", "--limit", "2").stdout.count("\n") == 2
    limited = json_lines(ok("events", "--json", "--limit", "3").stdout)
    assert [e["position"] for e in limited] == [1, 2, 3]


def test_walk_history_as_a_table(walked: dict[str, Any]) -> None:
    table = ok("model", "history", "iris").stdout
    assert "1.2.3" in table and "archived" in table


# ---------------------------------------------------------- the prompt on a terminal


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


@pytest.fixture
def occupied(client: Client) -> Client:
    """Model ``tty``: version 1 in production, version 2 not."""
    client.create_model("tty")
    client.create_model_version("tty")
    client.create_model_version("tty")
    client.update_model_version("tty", 1, stage="production")
    return client


@SQLITE_ONLY
def test_prompt_answered_no_changes_nothing(occupied: Client) -> None:
    code, output = _pty_promote("n")
    assert code == 0, output
    assert "Traceback" not in output
    assert "held by version '1'" in output
    assert occupied.get_model_version("tty", "production").name == "1"
    assert len(occupied.get_stage_history("tty")) == 1


@SQLITE_ONLY
def test_prompt_answered_yes_forces_the_promotion(occupied: Client) -> None:
    code, output = _pty_promote("y")
    assert code == 0, output
    assert "Traceback" not in output
    by_stage = {v.name: v.stage.value for v in occupied.list_model_versions("tty")}
    assert by_stage == {"1": "archived", "2": "production"}
    assert [(h.version, h.stage.value) for h in occupied.get_stage_history("tty")] == [
        ("1", "production"),
        ("1", "archived"),
        ("2", "production"),
    ]


# ------------------------------------------------------------------ events --follow


def test_events_follow(client: Client) -> None:
    client.create_model("followed")
    head = log_head(client)
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
        client.create_model_version("followed")  # a write from outside the follower
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


# ------------------------------------------------------------------------- replay


@pytest.fixture
def replayable(client: Client) -> tuple[int, dict[str, list[tuple[Any, ...]]]]:
    """Model ``rp``: "1" promoted, then "two" forced in and a description added; the position
    between the two, and the live tables."""
    client.create_model("rp", tags=["x"])
    client.create_model_version("rp")
    client.create_model_version("rp", name="two")
    client.update_model_version("rp", 1, stage="production", reason="first")
    middle = client.get_stage_history("rp")[-1].position
    client.update_model_version("rp", "two", stage="production", force=True)
    client.update_model("rp", description="later")
    return middle, live_dump()


def test_replay_of_the_live_tables_gives_the_same_tables(
    replayable: tuple[int, dict[str, list[tuple[Any, ...]]]],
) -> None:
    _, before = replayable
    result = ok("replay")
    assert "Replayed" in result.stderr and "events" in result.stderr
    assert live_dump() == before


def test_replay_into_a_file_leaves_the_live_tables(
    replayable: tuple[int, dict[str, list[tuple[Any, ...]]]], tmp_path: Path
) -> None:
    _, before = replayable
    into = tmp_path / "out" / "replayed.db"
    result = ok("replay", "--into", str(into))
    assert "Replayed" in result.stderr
    assert into.exists()
    assert file_dump(into) == before
    # the live tables were not touched
    assert live_dump() == before


def test_replay_until_a_position_shows_the_past(
    replayable: tuple[int, dict[str, list[tuple[Any, ...]]]], tmp_path: Path
) -> None:
    middle, _ = replayable
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


# ------------------------------------------------------------------------- deletion


@pytest.fixture
def doomed(client: Client) -> Client:
    """Model ``gone`` ("first life"): versions 1 (in staging, reason "life1") and 2."""
    client.create_model("gone", description="first life")
    client.create_model_version("gone")
    client.create_model_version("gone")
    client.update_model_version("gone", 1, stage="staging", reason="life1")
    return client


def test_version_delete_needs_yes_and_its_number_is_never_reused(doomed: Client) -> None:
    fails("model", "version", "delete", "gone", "2", contains=("-y",))
    assert ok_json("model", "version", "describe", "gone", "2")["number"] == 2
    before = _log(doomed)
    ok("model", "version", "delete", "gone", "2", "-y")
    after = _log(doomed)
    assert after[: len(before)] == before
    assert [e.type for e in after[len(before) :]] == [
        "Model.VersionDeleted",
        "ModelVersion.Deleted",
    ]
    fails("model", "version", "delete", "gone", "2", "-y", contains=("2",))
    assert [v["number"] for v in ok_json("model", "version", "list", "gone")["items"]] == [1]
    assert ok_json("model", "version", "create", "gone")["number"] == 3


def test_model_delete_needs_yes_and_keeps_the_history(doomed: Client) -> None:
    # without -y and without a terminal: refused, still there
    fails("model", "delete", "gone", contains=("-y",))
    assert ok_json("model", "describe", "gone")["name"] == "gone"
    ok("model", "delete", "gone", "-y", "--reason", "retired")
    fails("model", "describe", "gone", contains=("gone",))
    assert ok_json("model", "list")["total"] == 0
    # history survives the deletion; the holder's leaving its stage is in it
    history = ok_json("model", "history", "gone")
    assert [(h["version"], h["stage"], h["reason"]) for h in history] == [
        ("1", "staging", "life1"),
        ("1", "deleted", "retired"),
    ]


def test_a_deleted_name_lives_again_and_events_show_both_lives(doomed: Client) -> None:
    first_id = str(doomed.get_model("gone").id)
    doomed.delete_model("gone", reason="retired")
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


# ---------------------------------------------------------------------- error paths


@pytest.fixture
def err(client: Client) -> Client:
    """Model ``err``: version "alpha" (1) and version 2, deleted."""
    client.create_model("err")
    client.create_model_version("err", name="alpha")
    deleted = client.create_model_version("err")
    client.delete_model_version(deleted.id)
    return client


def test_what_the_store_does_not_hold_is_one_error_line(err: Client) -> None:
    before = _log(err)
    fails("model", "describe", "nope", contains=("nope",))
    fails("model", "version", "list", "nope", contains=("nope",))
    fails("model", "version", "describe", "err", "99", contains=("99",))
    fails("model", "version", "describe", "err", "beta", contains=("beta",))
    fails("model", "version", "update", "err", "99", "--stage", "staging", contains=("99",))
    fails("model", "register", "err", contains=("err", "exists"))
    fails("model", "version", "create", "err", "--name", "alpha", contains=("alpha",))
    # promoting a deleted version
    fails("model", "version", "update", "err", "2", "--stage", "production", contains=("2",))
    assert _log(err) == before, "a refused command appends nothing"


@SQLITE_ONLY
def test_refused_arguments_are_one_error_line(err: Client) -> None:
    """Checked before the store is asked anything: the same on every store."""
    before = _log(err)
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
    assert _log(err) == before, "a refused command appends nothing"


@SQLITE_ONLY
def test_usage_errors_exit_2(store: str) -> None:
    fails("model", "version", "create", code=2)
    fails("model", "frobnicate", code=2)
    fails("events", "--limit", "0", code=2)
