"""A store reopened by a new process: snapshots, cached aggregates and the README's example."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from modelplane.client import Client
from modelplane.enums import ModelStages

ROOT = Path(__file__).resolve().parents[2]

CHILD = """
from modelplane.client import Client
c = Client()
v = c.create_model_version("big")
c.update_model_version("big", v.number, stage="production", force=True, reason="child")
print(v.number, c.get_model_version("big", "production").number)
"""


def test_a_new_process_continues_from_snapshots(client: Client) -> None:
    """Past 200 events a model is loaded from a snapshot; the next process must agree."""
    client.create_model("big")
    for _ in range(450):
        client.create_model_version("big")
    client.update_model_version("big", 3, stage="staging")
    out = subprocess.run(
        [sys.executable, "-c", CHILD],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    assert out.stdout.split() == ["451", "451"]
    # this process's cached Model is stale now: the next command must notice and retry
    created = client.create_model_version("big")
    assert created.number == 452
    assert client.get_model_version("big", ModelStages.STAGING).number == 3
    history = client.get_stage_history("big")
    assert [(h.version, h.stage.value, h.reason) for h in history][-1] == (
        "451",
        "production",
        "child",
    )


def test_readme_python_examples_run(store: str, tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    # the webhook receiver serves forever (tests/http/test_readme_receiver.py runs it); the
    # MLflow block needs a server (tests/mlflow/test_readme_mlflow.py runs it)
    skipped = ("# webhook_receiver.py", "# mlflow_clients.py")
    blocks = [b for b in blocks if not b.startswith(skipped)]
    assert len(blocks) == 2
    script = tmp_path / "readme_example.py"
    script.write_text("\n".join(blocks))
    out = subprocess.run(
        [sys.executable, str(script)],
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "none -> production" in out.stdout and "accuracy 0.97 vs 0.94" in out.stdout
    lines = out.stdout.splitlines()
    assert lines[-4] == "{'accuracy': 1.0}"
    assert lines[-3] == "['trained_model'] ['iris_data', 'predictions']"
    assert lines[-1] == "stage ['predict']"
