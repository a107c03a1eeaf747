"""``make run``'s tour (``scripts/demo.sh``) runs to the end on a fresh store and shows what
it says it shows: nothing else runs that script, and a tour that breaks is a broken README."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_demo_tours_a_fresh_store_to_the_end(tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if k not in ("MODELPLANE_STORE_URL", "MODELPLANE_HOME")
    }
    env["MODELPLANE_HOME"] = str(tmp_path / "home")
    env["MODELPLANE_CLI"] = f"{sys.executable} -m modelplane"
    done = subprocess.run(
        ["bash", str(REPO / "scripts" / "demo.sh")],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # the script's trace (set -x) marks where each command starts
        text=True,
        timeout=300,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, out[-2000:]
    assert "accuracy 0.97 vs 0.94" in out and "first release" in out  # the history
    # the time travel step answers with the version promoted first, not today's holder
    travel = out.split("model version describe")[1].split("\n+ ")[0]
    assert "Model iris_classifier version 1 " in travel and "production" in travel
