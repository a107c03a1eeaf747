"""Running a bench script at smoke size, as the tests of ``make bench``'s sections do.

PostgreSQL configurations run where a server is reachable (and must, under
``MODELPLANE_REQUIRE_POSTGRES=1``); the script's JSON document is what the test checks.
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


def run_smoke(script: str, tmp_path: Path, *args: str) -> tuple[dict[str, Any], bool]:
    """``benchmarks/<script> --smoke <args>`` under a fresh home: its JSON document, and
    whether it ran the PostgreSQL configurations too."""
    argv = [sys.executable, str(BENCH / script), "--smoke", *args]
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
    return dict(json.loads(done.stdout)), with_postgres


def modelplane_configs(with_postgres: bool) -> set[str]:
    """The modelplane servers a section measures: 1 and 4 workers on each store."""
    return {
        f"modelplane-{store}-w{workers}"
        for store in ("sqlite", "postgres")[: 1 + with_postgres]
        for workers in (1, 4)
    }
