"""``modelplane events --follow`` as a process, locally (a poll of the log) and against a
server (its event stream): it prints each event as another client writes it, and Ctrl-C
(SIGINT to its pid) ends it with 130 and no traceback. Every wait is bounded."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from modelplane.backend import http as http_backend
from modelplane.backend.http import HttpBackend
from modelplane.client import Client
from modelplane.store_handle import close_all
from tests.servers import running_server

EXE = str(Path(sys.executable).parent / "modelplane")
DEADLINE = 60.0


@dataclass
class Target:
    env: dict[str, str]
    client: Client


@pytest.fixture(params=["local", "remote"])
def target(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Target]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MODELPLANE_SERVER_URL", "MODELPLANE_API_TOKEN", "MODELPLANE_STORE_URL")
    }
    env |= {"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")
    if request.param == "local":
        env |= {"MODELPLANE_HOME": str(tmp_path / "home"), "MODELPLANE_ACTOR": "follower"}
        for name in ("MODELPLANE_SERVER_URL", "MODELPLANE_API_TOKEN", "MODELPLANE_STORE_URL"):
            monkeypatch.delenv(name, raising=False)
        for name in ("MODELPLANE_HOME", "MODELPLANE_ACTOR", "XDG_CONFIG_HOME"):
            monkeypatch.setenv(name, env[name])
        close_all()
        yield Target(env, Client())
        close_all()
        return
    home = tmp_path / "server-home"
    home.mkdir()
    with running_server(home) as server:
        env |= {"MODELPLANE_SERVER_URL": server.url, "MODELPLANE_API_TOKEN": server.admin_token}
        env["MODELPLANE_HOME"] = str(tmp_path / "client-home")
        yield Target(env, Client(HttpBackend(server.url, server.admin_token)))
        http_backend.close_all()


def read_lines(proc: subprocess.Popen[str], enough: Any) -> list[str]:
    """Lines ``proc`` prints until ``enough(lines)``, within DEADLINE."""
    assert proc.stdout is not None
    fd, buffer = proc.stdout.fileno(), ""
    lines: list[str] = []
    deadline = time.monotonic() + DEADLINE
    while not enough(lines):
        assert time.monotonic() < deadline, lines
        assert proc.poll() is None, (lines, proc.stderr.read() if proc.stderr else "")
        ready, _, _ = select.select([fd], [], [], 0.5)
        if ready:
            chunk = os.read(fd, 65536).decode()
            buffer += chunk
            *complete, buffer = buffer.split("\n")
            lines += [line for line in complete if line.strip()]
    return lines


def interrupt(proc: subprocess.Popen[str]) -> tuple[int, str]:
    """Ctrl-C by pid; the exit code and stderr (killed, and the test failed, if it hangs)."""
    os.kill(proc.pid, signal.SIGINT)
    try:
        code = proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise AssertionError("events --follow did not end on SIGINT") from None
    return code, proc.stderr.read() if proc.stderr else ""


def _default_ctrl_c() -> None:
    # A shell starts a background job (``make test &``, nohup, some CI runners) with SIGINT
    # ignored, and a child inherits that: Python then installs no KeyboardInterrupt handler,
    # and the Ctrl-C this test sends would be dropped. Give the child a terminal's default.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def follow(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [EXE, "events", "--follow", *args],
        env=env,
        preexec_fn=_default_ctrl_c,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_follow_prints_each_event_as_it_is_written(target: Target) -> None:
    client = target.client
    name = f"f-{uuid.uuid4().hex[:8]}"
    client.create_model(name)
    head = client.list_events(after=0, limit=100_000)[-1].position
    proc = follow(target.env, "--json", "--after", str(head))
    code, stderr = None, ""
    try:
        client.create_model_version(name, name="v1")
        client.update_model_version(name, "v1", stage="production")
        expected = client.list_events(after=head, limit=10_000)
        lines = read_lines(proc, lambda got: len(got) >= len(expected))
        got = [json.loads(line) for line in lines]
        assert [e["position"] for e in got] == [e.position for e in expected]
        assert [e["type"] for e in got] == [e.type for e in expected]
        assert "Model.StageChanged" in [e["type"] for e in got]
    finally:
        if proc.poll() is None:
            code, stderr = interrupt(proc)
    assert code == 130, stderr
    assert "Traceback" not in stderr, stderr


def test_follow_as_rows_then_ctrl_c(target: Target) -> None:
    client = target.client
    name = f"f-{uuid.uuid4().hex[:8]}"
    client.create_model(name)
    proc = follow(target.env, "--model", name)
    code, stderr = None, ""
    try:
        lines = read_lines(proc, lambda got: len(got) >= 1)  # the registration, from after=0
        client.create_model_version(name, name="v7")
        # the version's own event is the last of the two its creation appends
        lines = lines + read_lines(
            proc, lambda got: any("ModelVersion.Created" in line for line in got)
        )
        rows = [line.split("\t") for line in lines]
        assert all(len(row) == 5 for row in rows), rows  # position, time, actor, type, summary
        assert rows[0][3] == "Model.Registered" and name in rows[0][4], rows
        assert rows[-1][3:] == ["ModelVersion.Created", "version 'v7' (1) created"], rows
    finally:
        if proc.poll() is None:
            code, stderr = interrupt(proc)
    assert code == 130 and "Traceback" not in stderr, stderr
