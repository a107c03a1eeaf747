"""The README's MLflow block ("## MLflow clients"), run as written against a real server.

The block is cut out of README.md (the one python block of that section, which starts with
``MARKER``) and run as its own script with the project's interpreter, once per store (the
``mlflow_server`` fixture: SQLite, then PostgreSQL), as a reader would run it: the server's URL
and a ``write`` token in ``MODELPLANE_SERVER_URL`` / ``MODELPLANE_API_TOKEN``, an empty
``MODELPLANE_HOME`` and no saved login. ``MODELPLANE_ACTOR`` is set to another name, so the
actor it prints can only be the token's. The README's walk-through tests leave this block out
(tests/contract/test_walkthrough_remote.py): it needs MLflow and a server, and runs here.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from tests.e2e.test_guide import explain, parse_guide
from tests.servers import RunningServer

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SECTION = "MLflow clients"
MARKER = "# mlflow_clients.py"
TIMEOUT_SECONDS = 120
#: what the block must go on showing, whatever else an edit changes
CALLS = (
    "MlflowClient(tracking_uri=url, registry_uri=url)",
    'os.environ["MODELPLANE_SERVER_URL"]',
    'os.environ["MLFLOW_TRACKING_TOKEN"] = os.environ["MODELPLANE_API_TOKEN"]',
    ".set_registered_model_alias(",
    ".transition_model_version_stage(",
    "Client()",
    ".get_alias_history(",
    ".get_model_version_by_alias(",
    "at=",
    ".get_stage_history(",
)


def mlflow_block() -> str:
    """The python block of the README's MLflow section; there must be exactly one."""
    blocks = parse_guide(README.read_text(encoding="utf-8"))
    assert any(b.section == SECTION for b in blocks), f"README.md has no '## {SECTION}' section"
    found = [b for b in blocks if b.section == SECTION and b.language == "python"]
    assert len(found) == 1, f"README.md, '## {SECTION}': {len(found)} python blocks, not 1"
    (block,) = found
    assert block.text.startswith(MARKER), f"README.md:{block.line}: does not start {MARKER!r}"
    return block.text


def test_the_readme_shows_mlflow_code_and_what_modelplane_answers() -> None:
    text = mlflow_block()
    missing = [call for call in CALLS if call not in text]
    assert not missing, f"the README's MLflow block no longer shows {missing}"
    assert len(text.splitlines()) <= 40, "the README's MLflow block is meant to stay short"


def test_the_readme_mlflow_block_runs_against_a_server(
    mlflow_server: RunningServer, token: str, actor: str, tmp_path: Path
) -> None:
    script = tmp_path / "mlflow_clients.py"
    script.write_text(mlflow_block(), encoding="utf-8")
    home = tmp_path / "home"
    home.mkdir()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("MODELPLANE_", "MLFLOW_")) or k == "MLFLOW_DISABLE_TELEMETRY"
    }
    env.update(mlflow_server.env(token))
    env["MODELPLANE_HOME"] = str(home)  # empty: a call that went local would find nothing
    env["MODELPLANE_ACTOR"] = "readme-reader"  # the server decides who acts: not this
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")  # no saved `modelplane login`
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    done = subprocess.run(
        [sys.executable, str(script)],
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_SECONDS,
        check=False,
    )
    assert done.returncode == 0, explain("The README's MLflow block", done)
    moved, promoted = done.stdout.splitlines()
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"
    assert re.fullmatch(rf"{re.escape(actor)} moved champion from 1 to 2 at {stamp}", moved)
    assert promoted == f"2 none -> production {actor}", done.stdout
    local = sorted(str(p) for p in home.rglob("modelplane.db*"))
    assert not local, f"a local store appeared on the client: {local}"
