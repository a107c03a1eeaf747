"""The CLI against hostile and unlucky input: what it prints, where, and that it never crashes.

Most commands run in this process through the real entry point, ``modelplane.cli.main``
(subprocesses cost ~0.5 s each); where the split between stdout and stderr or a terminal
matters, they run as the installed console script. Every test runs on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import warnings
from dataclasses import dataclass
from typing import Annotated, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelplane import Model, log_metadata, pipeline, step
from modelplane.cli import main
from modelplane.client import Client
from modelplane.exceptions import RunEndedError
from modelplane.pipelines import context as pipeline_context
from tests.conftest import store_of
from tests.e2e.test_cli import EXE, TIMEOUT, _env, _pty_update


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return [line for line in self.err.splitlines() if line.strip()]


@pytest.fixture
def cli(store: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    """Run ``modelplane ARGS`` in-process; an exception escaping ``main`` fails the test."""
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("TERM", "dumb")

    def run(*args: str) -> Result:
        capsys.readouterr()
        try:
            main(list(args))
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err, out + err
        if code == 1:  # a user error: exactly one line, on stderr
            lines = [line for line in err.splitlines() if line.strip()]
            assert len(lines) == 1 and lines[0].startswith("Error: "), (args, err)
        return Result(code, out, err)

    return run


def ok(cli: Any, *args: str) -> Result:
    result: Result = cli(*args)
    assert result.code == 0, (args, result)
    return result


def refused(cli: Any, *args: str, code: int = 1) -> str:
    result: Result = cli(*args)
    assert result.code == code, (args, result)
    return result.err


def mp(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EXE, *args],
        env=env or _env(),
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=TIMEOUT,
    )


# ------------------------------------------------------- 1. user text is text, not markup


def test_user_text_is_printed_literally_with_control_characters_visible(cli: Any) -> None:
    ok(
        cli,
        "model", "register", "[bold]m",
        "-t", "team[/ml]", "-t", "[red]",
        "--license", "[red]MIT[/red]",
        "--description", "a\x1b[31mred\u202eX\x9b",
    )  # fmt: skip
    ok(
        cli,
        "model", "version", "create", "[bold]m", "--name", "[red]x",
        "-t", "team[/ml]", "--description", "\x1b]0;owned\x07",
    )  # fmt: skip
    ok(cli, "model", "version", "create", "[bold]m")
    ok(cli, "model", "version", "update", "[bold]m", "[red]x", "--stage", "production",
       "--reason", "go\x1b[2J[/b]")  # fmt: skip

    outputs = {
        args: ok(cli, *args).out
        for args in [
            ("model", "list"),
            ("model", "describe", "[bold]m"),
            ("model", "history", "[bold]m"),
            ("events",),
            ("events", "--wide"),
            ("model", "version", "list", "[bold]m"),
            ("model", "version", "describe", "[bold]m", "[red]x"),
        ]
    }
    for args, out in outputs.items():
        assert "\x1b" not in out and "\u202e" not in out and "\x9b" not in out, args
        assert "[bold]m" in out or args[0] == "events", (args, out)
    assert "team[/ml], [red]" in outputs[("model", "list")]
    described = outputs[("model", "describe", "[bold]m")]
    assert "[red]MIT[/red]" in described
    assert "a\\x1b[31mred\\u202eX\\x9b" in described
    assert "team[/ml], [red]" in described
    assert "go\\x1b[2J[/b]" in outputs[("model", "history", "[bold]m")]
    assert "[red]x" in outputs[("model", "version", "list", "[bold]m")]
    version = outputs[("model", "version", "describe", "[bold]m", "[red]x")]
    assert "\\x1b]0;owned\\x07" in version and "team[/ml]" in version
    assert "team[/ml]" in outputs[("events",)]
    assert "go\\x1b[2J[/b]" in outputs[("events",)]

    # messages quoting user data: an error line and a note
    err = refused(cli, "model", "describe", "no\x1b[31mpe")
    assert "\x1b" not in err and "no\\x1b[31mpe" in err
    result = ok(cli, "model", "version", "delete", "[bold]m", "2", "-y")
    assert "of model '[bold]m' deleted" in result.err


# --------------------------------------------------------------- 2. messages speak CLI


def test_refusals_name_the_cli_options(cli: Any) -> None:
    ok(cli, "model", "register", "msg")
    ok(cli, "model", "version", "create", "msg")
    ok(cli, "model", "version", "create", "msg")
    ok(cli, "model", "version", "update", "msg", "1", "--stage", "production")

    err = refused(cli, "model", "version", "update", "msg", "2", "--stage", "production")
    assert "--force" in err and "force=True" not in err
    assert "'1'" in err and "production" in err

    for args in [
        ("model", "version", "describe", "msg", "archived"),
        ("model", "version", "describe", "msg", "None"),
        ("model", "version", "delete", "msg", "archived", "-y"),
        ("model", "version", "update", "msg", "none", "--stage", "staging"),
        ("model", "version", "artifacts", "msg", "archived"),
        ("model", "version", "runs", "msg", "none"),
    ]:
        err = refused(cli, *args)
        assert "list_model_versions(" not in err and "stage=" not in err, err
        assert "modelplane model version list msg --stage" in err, err
    err = refused(cli, "model", "version", "describe", "msg", "archived", "--at", "1")
    assert "--at" in err and "list_model_versions(" not in err
    # a model name that needs quoting is quoted in the suggested command
    ok(cli, "model", "register", "two words")
    err = refused(cli, "model", "version", "describe", "two words", "archived")
    assert "modelplane model version list 'two words' --stage archived" in err
    # none of the above changed anything
    versions = json.loads(ok(cli, "model", "version", "list", "msg", "--json").out)
    assert {v["name"]: v["stage"] for v in versions["items"]} == {"1": "production", "2": "none"}


# ---------------------------------------------------------------------------- 3. pager


def test_the_pager_line_never_says_page_5_of_2(cli: Any) -> None:
    assert ok(cli, "model", "list").err.strip() == "No models."
    assert ok(cli, "run", "list").err.strip() == "No runs."
    assert ok(cli, "artifact", "list").err.strip() == "No artifact versions."
    for name in ("a", "b", "c"):
        ok(cli, "model", "register", name)
    assert ok(cli, "model", "list", "--size", "2").err.strip() == "Page 1/2, 3 model(s)."
    assert ok(cli, "model", "list", "--size", "2", "--page", "2").err.strip() == (
        "Page 2/2, 3 model(s)."
    )
    past = ok(cli, "model", "list", "--size", "2", "--page", "5").err.strip()
    assert past == "Page 5 is past the end: 2 page(s), 3 model(s)."
    assert "Page 5/2" not in past
    ok(cli, "model", "version", "create", "a")
    past = ok(cli, "model", "version", "list", "a", "--page", "3").err.strip()
    assert past == "Page 3 is past the end: 1 page(s), 1 version(s)."
    assert ok(cli, "run", "list", "--page", "2").err.strip() == "Page 2 is past the end: no runs."


# ------------------------------------------------------- 4. progress and notes on stderr


def test_stdout_carries_data_only(store: str) -> None:
    assert mp("model", "register", "quiet").returncode == 0
    replayed = mp("replay")
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout == ""  # the progress bar and the summary went to stderr
    assert "replaying" in replayed.stderr and "Replayed" in replayed.stderr
    deleted = mp("model", "delete", "quiet", "-y")
    assert deleted.returncode == 0 and deleted.stdout == ""
    assert "deleted" in deleted.stderr
    listed = mp("model", "list", "--json")
    assert json.loads(listed.stdout)["total"] == 0  # the pager note is not in the JSON
    assert "No models." in listed.stderr or listed.stderr == ""


# --------------------------------------------------------------------- 5. the event log


@step
def _train() -> Annotated[int, "weights"]:
    log_metadata(metadata={"accuracy": 0.9, "loss": 0.1}, infer_model=True)
    return 7


@pipeline(model=Model(name="iris"))
def _trainer() -> None:
    _train()


ROW_START = re.compile(r"^(\d+) ")


def _rows(table: str) -> list[list[str]]:
    """The table's rows, each the lines it takes (the header and its rule dropped)."""
    rows: list[list[str]] = []
    for line in table.splitlines()[2:]:
        if ROW_START.match(line):
            rows.append([line])
        elif rows and line.strip():
            rows[-1].append(line)
    return rows


def test_events_table_is_readable_at_80_columns(cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    ok(cli, "model", "register", "iris", "-t", "a")
    ok(cli, "model", "version", "create", "iris")
    ok(cli, "model", "version", "create", "iris", "--name", "rc")
    ok(cli, "model", "version", "update", "iris", "1", "--stage", "production", "--reason", "ok")
    ok(cli, "model", "version", "update", "iris", "rc", "--stage", "production", "--force")
    client = Client()
    store_of(client).registry.log_metadata(
        client.get_model_version("iris", "rc").id, {"accuracy": 0.9, "loss": 0.1}, actor="tester"
    )
    _trainer()

    monkeypatch.setenv("COLUMNS", "80")
    table = ok(cli, "events").out
    header = table.splitlines()[0]
    assert header.split() == ["POSITION", "TIME", "ACTOR", "TYPE", "SUMMARY"]
    assert max(len(line) for line in table.splitlines()) <= 80
    assert "class_version" not in table and "originator_topic" not in table
    for bookkeeping in ("ModelName.", "VersionName.", "StageSet"):  # shown with --wide only
        assert bookkeeping not in table
    rows = _rows(table)
    assert rows
    actor_at, type_at = header.index("ACTOR"), header.index("TYPE")
    for row in rows:
        assert row[0][actor_at:type_at].strip(), row  # never a blank actor
        assert len(row) <= 2, "\n".join(row)  # one or two lines per event
    summary_at = header.index("SUMMARY")
    summaries = [" ".join(line[summary_at:].strip() for line in row) for row in rows]
    text = "\n".join(summaries)
    assert "model 'iris' registered, tags: a" in text
    assert "iris: version '1' none -> production, reason: ok" in text
    assert "(displaced '1')" in text and "version 'rc' (2) created" in text
    assert "metadata: accuracy, loss" in text
    assert "step '_train' completed" in text
    assert "weights' version 1 saved" in text

    monkeypatch.setenv("COLUMNS", "400")  # type names and summaries on one line each
    wide = ok(cli, "events", "--wide").out
    assert "class_version" not in wide
    for bookkeeping in ("ModelName.", "VersionName.Claimed", "ModelVersion.StageSet"):
        assert bookkeeping in wide
    assert "version name taken by version 2" in wide and "version 1 now in archived" in wide
    wide_header = wide.splitlines()[0]
    assert wide_header.split() == ["POSITION", "TIME", "ACTOR", "TYPE", "SUMMARY", "PAYLOAD"]
    actor_at, type_at = wide_header.index("ACTOR"), wide_header.index("TYPE")
    assert all(row[0][actor_at:type_at].strip() for row in _rows(wide))

    # --json: every event, whole payloads, without the event store's bookkeeping
    events = [json.loads(line) for line in ok(cli, "events", "--json").out.splitlines()]
    assert any(e["type"].startswith("ModelName.") for e in events)
    assert all("class_version" not in e["payload"] for e in events)
    logged = [e for e in events if e["type"] == "ModelVersion.MetadataLogged"]
    assert logged and logged[0]["payload"]["metadata"] == {"accuracy": 0.9, "loss": 0.1}

    # the tab-separated form (what --follow prints) has the same columns
    follow = subprocess.Popen(
        [EXE, "events", "--follow"],
        env=_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert follow.stdout is not None
        first = follow.stdout.readline().rstrip("\n").split("\t")
    finally:
        follow.terminate()
        follow.wait(timeout=30)
    assert first[0] == "1" and first[2] == "tester" and first[3] == "Model.Registered"
    assert first[4] == "model 'iris' registered, tags: a"


# ----------------------------------------------------------- 6. the lives of one name


def test_model_history_tells_the_lives_of_a_name_apart(cli: Any) -> None:
    ok(cli, "model", "register", "gone")
    ok(cli, "model", "version", "create", "gone")
    ok(cli, "model", "version", "update", "gone", "1", "--stage", "staging", "--reason", "L1")
    ok(cli, "model", "delete", "gone", "-y", "--reason", "retired")
    ok(cli, "model", "register", "gone")
    ok(cli, "model", "version", "create", "gone")
    ok(cli, "model", "version", "update", "gone", "1", "--stage", "production", "--reason", "L2")

    history = json.loads(ok(cli, "model", "history", "gone", "--json").out)
    assert [(h["life"], h["version"], h["previous_stage"], h["stage"]) for h in history] == [
        (1, "1", "none", "staging"),
        (1, "1", "staging", "deleted"),
        (2, "1", "none", "production"),
    ]

    table = ok(cli, "model", "history", "gone").out
    assert "2 models had this name" in table
    first, second = table.index("Life 1 of 2"), table.index("Life 2 of 2")
    assert first < second
    life1, life2 = table[first:second], table[second:]
    assert "L1" in life1 and "retired" in life1 and "deleted" in life1 and "L2" not in life1
    assert "L2" in life2 and "L1" not in life2
    title1 = life1.splitlines()[0]
    title2 = life2.splitlines()[0]
    assert "registered" in title1 and "deleted" in title1
    assert "registered" in title2 and "current" in title2

    # one life: one table, no life numbers
    ok(cli, "model", "register", "single")
    single = ok(cli, "model", "history", "single").out
    assert "Stage history of single" in single and "Life" not in single


# -------------------------------------------------------------- 7. mark-failed a live run


def test_mark_failed_refuses_a_live_run_without_force(
    cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = store_of(Client()).registry
    registry.start_run("alive", pipeline="p", actor="tester")

    err = refused(cli, "run", "mark-failed", "alive")
    assert "--force" in err and "still alive" in err
    assert Client().get_pipeline_run("alive").status == "running"

    ok(cli, "run", "mark-failed", "alive", "--force", "--reason", "stop it")
    ended = Client().get_pipeline_run("alive")
    assert (ended.status, ended.error) == ("failed", "stop it")
    assert "already ended" in refused(cli, "run", "mark-failed", "alive", "--force")

    # a stale run (its process died) needs no --force
    registry.start_run("dead", pipeline="p", actor="tester")
    monkeypatch.setenv("MODELPLANE_STALE_RUN_SECONDS", "0")
    time.sleep(0.01)
    ok(cli, "run", "mark-failed", "dead")
    assert Client().get_pipeline_run("dead").status == "failed"


SECOND_STEP_RAN: list[bool] = []


@step
def _marked_from_outside() -> int:
    run = pipeline_context.current_run()
    assert run is not None
    # someone else ends this run while the step works (what ``run mark-failed --force`` does)
    store_of(Client()).registry.finish_run(run.run_id, status="failed", error="ops", actor="ops")
    return 1


@step
def _after(value: int) -> int:
    SECOND_STEP_RAN.append(True)
    return value


@pipeline
def _doomed() -> None:
    _after(_marked_from_outside())


def test_a_pipeline_whose_run_was_marked_failed_stops_with_a_typed_error(store: str) -> None:
    SECOND_STEP_RAN.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "could not mark the run failed" warning
        with pytest.raises(RunEndedError, match=r"ended from outside \(failed: ops\)"):
            _doomed()
    assert SECOND_STEP_RAN == []
    (run,) = Client().list_pipeline_runs().items
    assert (run.status, run.error) == ("failed", "ops")
    assert run.steps == {}  # an ended run records nothing more, not even the step in flight


# ---------------------------------------------- 8. numbers and times: one line, never a crash


ODD = [
    "9" * 30,
    str(2**63),
    str(2**63 - 1),
    "²",
    "٣",
    "\uff11",  # fullwidth one
    "-1",
    "",
    " ",
    "1e3",
    "0x10",
    "0001-01-01",
    "0001-01-01T00:00:00+05:00",
    "0001-01-01T00:00:00-23:59",
    "9999-12-31T23:59:59-23:59",
    "9999-12-31",
    "2026-13-01",
    "nan",
    "[/x]",
    "\x1b[31m",
    "production",
    "archived",
]


@pytest.fixture
def far_west(monkeypatch: pytest.MonkeyPatch) -> Any:
    """A local zone far from UTC, where converting the calendar's ends overflows."""
    monkeypatch.setenv("TZ", "Pacific/Pago_Pago")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _check_odd(cli: Any, value: str) -> None:
    commands = [
        ("model", "version", "describe", "m", value),
        ("model", "version", "describe", "m", "1", "--at", value),
        ("model", "version", "describe", "m", "production", "--at", value),
        ("model", "version", "delete", "m", value),
        ("model", "version", "artifacts", "m", value),
        ("model", "version", "runs", "m", value),
        ("artifact", "describe", "weights", "--version", value),
        ("events", "--after", value),
        ("events", "--limit", value),
        ("model", "list", "--page", value),
        ("model", "list", "--size", value),
        ("model", "version", "list", "m", "--page", value),
        ("run", "list", "--size", value),
        ("artifact", "list", "--page", value),
        ("run", "describe", value),
        ("artifact", "describe", value),
        ("events", "--model", value),
    ]
    for args in commands:
        result = cli(*args)
        assert result.code in (0, 1, 2), (args, result)


def test_odd_numbers_and_times_give_one_line(cli: Any, far_west: Any) -> None:
    ok(cli, "model", "register", "m")
    ok(cli, "model", "version", "create", "m")
    ok(cli, "model", "version", "update", "m", "1", "--stage", "production")
    for value in ODD:
        _check_odd(cli, value)
    # the documented rule: a time without an offset is UTC
    assert "UTC" in ok(cli, "model", "version", "describe", "--help").out
    err = refused(cli, "model", "version", "describe", "m", "1", "--at", "9" * 30)
    assert "too large" in err
    # "²" is not a number: it is looked up as a version name, as the SDK does
    err = refused(cli, "model", "version", "describe", "m", "²")
    assert "No model version found" in err and "`²`" in err
    assert "digits 0-9" in refused(cli, "model", "list", "--page", "٣", code=2)
    assert refused(cli, "model", "version", "describe", "m", str(2**64)).startswith("Error: ")
    far_past = ok(cli, "model", "version", "describe", "m", "1", "--at", str(2**63 - 1), "--json")
    assert json.loads(far_past.out)["stage"] == "production"


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    value=st.one_of(
        st.sampled_from(ODD),
        st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00")),
        st.integers(min_value=-(2**70), max_value=2**70).map(str),
        st.datetimes().map(lambda d: d.isoformat()),
    )
)
def test_any_string_as_a_number_or_time_never_crashes(cli: Any, value: str) -> None:
    if not Client().list_models().total:
        ok(cli, "model", "register", "m")
        ok(cli, "model", "version", "create", "m")
    _check_odd(cli, value)


def test_arguments_that_are_not_utf8_are_refused(store: str) -> None:
    result = subprocess.run(
        [EXE.encode(), b"model", b"register", b"bad\xffname"],
        env=_env(),
        capture_output=True,
        stdin=subprocess.DEVNULL,
        timeout=TIMEOUT,
    )
    assert result.returncode == 1
    assert result.stderr.decode().startswith("Error: Argument 3")
    assert b"Traceback" not in result.stderr


# ------------------------------------------- the promotion prompt with a rename in one command


def test_promotion_prompt_when_the_same_command_renames(client: Client) -> None:
    """The state around the prompt is written and read through the SDK: only the prompted
    command needs the console script on a terminal."""
    client.create_model("tty2")
    client.create_model_version("tty2")
    client.create_model_version("tty2")
    client.update_model_version("tty2", 1, stage="production")

    def stages() -> dict[str, str]:
        return {v.name: v.stage.value for v in client.list_model_versions("tty2")}

    update = ("model", "version", "update", "tty2", "2", "--name", "two", "--stage", "production")
    code, output = _pty_update("n", *update)
    assert code == 0 and "Traceback" not in output, output
    assert stages() == {"1": "production", "2": "none"}

    code, output = _pty_update("y", *update)
    assert code == 0 and "Traceback" not in output, output
    assert stages() == {"1": "archived", "two": "production"}
