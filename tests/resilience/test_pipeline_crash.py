"""A process killed in the middle of a pipeline run: the run stays running (then stale),
every artifact it recorded loads, and the run can be marked failed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from modelplane.client import Client
from modelplane.store_handle import close_all

SCRIPT = """
import sys, time
from typing import Annotated
from modelplane import Model, pipeline, step

@step
def prepare() -> Annotated[dict, "prepared"]:
    return {"rows": [1, 2, 3]}

@step
def hang(data: dict) -> Annotated[int, "never"]:
    print("PREPARED", flush=True)
    time.sleep(600)
    return 0

@pipeline(model=Model(name="crashy"))
def flow():
    hang(prepare())

flow()
"""


def test_killed_run_stays_running_and_its_artifacts_load(store: str, tmp_path: Path) -> None:
    script = tmp_path / "flow.py"
    script.write_text(SCRIPT)
    child = subprocess.Popen(
        [sys.executable, str(script)], env=dict(os.environ), stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        deadline = time.monotonic() + 120
        line = ""
        while "PREPARED" not in line and time.monotonic() < deadline:
            line = child.stdout.readline()
        assert "PREPARED" in line, "the child never reached its second step"
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.wait(timeout=60)
    close_all()

    client = Client()
    [run] = client.list_pipeline_runs(model="crashy")
    assert run.status == "running" and not run.stale
    assert list(run.steps) == ["prepare"]
    assert client.get_artifact_version("prepared").load() == {"rows": [1, 2, 3]}
    assert client.get_model_version("crashy").get_data_artifact("prepared") is not None
    os.environ["MODELPLANE_STALE_RUN_SECONDS"] = "0"
    try:
        assert client.get_pipeline_run(run.id).stale
    finally:
        del os.environ["MODELPLANE_STALE_RUN_SECONDS"]
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "modelplane",
            "run",
            "mark-failed",
            str(run.id),
            "--reason",
            "killed",
        ],
        env=dict(os.environ, MODELPLANE_STALE_RUN_SECONDS="0"),  # it is stale: no --force
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    ended = client.get_pipeline_run(run.id)
    assert (ended.status, ended.error, ended.stale) == ("failed", "killed", False)
