"""The MLflow API bench's own run, at smoke sizes.

``make bench`` compares one MLflow client against ``mlflow server`` and against modelplane
(``benchmarks/mlflow_api_bench.py``); a change that breaks a step of it would otherwise show
only when someone runs the full comparison. CI does not install the peers' venvs
(``.ci/run`` runs ``make test`` only), so the first test drives modelplane alone with the
project's own client (``mlflow-skinny``, a test extra); the second runs both servers with the
MLflow venv's client when that venv exists. Both check that every figure was measured (every
call answered and counted, every target judged), not how fast anything was.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REQUIRE_POSTGRES, _pg_available

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
MLFLOW_PYTHON = BENCH / ".venvs" / "mlflow" / "bin" / "python"
OPS = (
    "create_model",
    "create_version",
    "set_alias",
    "get_by_alias",
    "search_versions",
    "search_models",
    "set_tag",
)


def run_bench(tmp_path: Path, *args: str) -> dict[str, Any]:
    argv = [sys.executable, str(BENCH / "mlflow_api_bench.py"), "--smoke", *args]
    env = {**os.environ, "MODELPLANE_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        argv, cwd=BENCH, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return dict(json.loads(done.stdout))


def assert_measured(doc: dict[str, Any], expected: set[str]) -> None:
    configs = doc["configs"]
    assert set(configs) == expected, sorted(configs)
    sizes = doc["sizes"]
    for name, config in configs.items():
        assert "error" not in config, (name, config)
        for op in OPS:
            samples = config["ops"][op]
            assert len(samples) == sizes["calls"] and all(ms > 0 for ms in samples), (name, op)
        load = config["throughput"]
        assert load["errors"] == 0, (name, load["first_errors"])
        assert load["calls"] == sizes["clients"] * sizes["rounds"] * len(OPS), (name, load)
        assert set(load["under_load"]) == set(OPS), name
        assert load["calls_per_s"] > 0
    judged = {(t["config"], t["verdict"] in ("met", "missed")) for t in doc["targets"]}
    mine = {name for name in expected if name.startswith("modelplane-")}
    if any(name.startswith("mlflow-") for name in expected):
        assert judged == {(name, True) for name in mine}, doc["targets"]
    else:  # nothing to compare with: every target is n/a
        assert judged == {(name, False) for name in mine}, doc["targets"]


def test_mlflow_api_bench_on_modelplane_with_the_project_client(tmp_path: Path) -> None:
    problem = _pg_available()
    if problem is not None and REQUIRE_POSTGRES:
        pytest.fail(f"PostgreSQL is required (MODELPLANE_REQUIRE_POSTGRES=1): {problem}")
    expected = {"modelplane-sqlite-w1"} | ({"modelplane-postgres-w4"} if problem is None else set())
    args = ["--no-mlflow", "--client-python", sys.executable, "--only", ",".join(expected)]
    doc = run_bench(tmp_path, *args + ["--no-postgres"] * (problem is not None))
    assert doc["client_python"] == sys.executable
    assert_measured(doc, expected)
    assert "mlflow" in doc["skipped"]


@pytest.mark.skipif(
    not MLFLOW_PYTHON.exists(),
    reason=f"no MLflow peers venv at {MLFLOW_PYTHON.parent.parent} "
    "(made by `bash benchmarks/peers/setup.sh mlflow`; CI does not install it)",
)
def test_mlflow_api_bench_compares_both_servers_with_the_mlflow_venv_client(
    tmp_path: Path,
) -> None:
    expected = {"modelplane-sqlite-w1", "mlflow-sqlite-w4"}
    doc = run_bench(tmp_path, "--no-postgres", "--only", ",".join(expected))
    assert doc["client_python"] == str(MLFLOW_PYTHON)
    assert_measured(doc, expected)
    clients = {config["client"] for config in doc["configs"].values()}
    assert len(clients) == 1 and clients.pop().startswith("mlflow 3."), doc["configs"]
