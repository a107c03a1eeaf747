"""The HTTP bench's own run, at smoke sizes, on modelplane's servers alone.

``make bench`` prints its HTTP figures from ``benchmarks/http_bench.py``; a refactor that breaks
a step of it would otherwise show only when someone runs the full comparison. This runs every
modelplane configuration (1 and 4 workers, SQLite and PostgreSQL) with a few calls each and
checks that each figure was measured (no errors, every request counted), not how fast it was.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REQUIRE_POSTGRES, _pg_available

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"
OPS = (
    "get_by_stage",
    "create_version",
    "sdk_get_by_stage_local",
    "sdk_get_by_stage_remote",
    "cli_model_list_remote",
    "cli_model_list_local",
)


def test_http_bench_measures_every_figure(tmp_path: Path) -> None:
    argv = [sys.executable, str(BENCH / "http_bench.py"), "--smoke", "--no-mlflow"]
    problem = _pg_available()
    with_postgres = problem is None
    if not with_postgres:
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required (MODELPLANE_REQUIRE_POSTGRES=1): {problem}")
        argv.append("--no-postgres")
    env = {**os.environ, "MODELPLANE_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        argv, cwd=BENCH, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]
    doc = json.loads(done.stdout)
    configs = doc["configs"]
    expected = {
        f"modelplane-{store}-w{workers}"
        for store in ("sqlite", "postgres")[: 1 + with_postgres]
        for workers in (1, 4)
    }
    assert set(configs) == expected, sorted(configs)
    sizes = doc["sizes"]
    for name, config in configs.items():
        assert "error" not in config, (name, config)
        throughput = config["throughput"]
        assert throughput["errors"] == 0, (name, throughput)
        assert throughput["requests"] == sizes["throughput_requests"], (name, throughput)
        assert throughput["req_per_s"] > 0
        ops = config["ops"]
        assert len(ops["get_by_stage"]) == sizes["sequential_gets"], name
        assert len(ops["create_version"]) == sizes["sequential_creates"], name
        for op in OPS:
            assert ops[op] and all(ms > 0 for ms in ops[op]), (name, op)
    assert "mlflow" in doc["skipped"]
