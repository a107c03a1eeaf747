"""The HTTP bench's own run, at smoke sizes, on modelplane's servers alone.

``make bench`` prints its HTTP figures from ``benchmarks/http_bench.py``; a refactor that breaks
a step of it would otherwise show only when someone runs the full comparison. This runs every
modelplane configuration (1 and 4 workers, SQLite and PostgreSQL) with a few calls each and
checks that each figure was measured (no errors, every request counted), not how fast it was.
"""

from __future__ import annotations

from pathlib import Path

from tests.integration.bench_runs import modelplane_configs, run_smoke

OPS = (
    "get_by_stage",
    "create_version",
    "sdk_get_by_stage_local",
    "sdk_get_by_stage_remote",
    "cli_model_list_remote",
    "cli_model_list_local",
)


def test_http_bench_measures_every_figure(tmp_path: Path) -> None:
    doc, with_postgres = run_smoke("http_bench.py", tmp_path, "--no-mlflow")
    configs = doc["configs"]
    expected = modelplane_configs(with_postgres)
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
