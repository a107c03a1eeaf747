"""The service bench's own run, at smoke sizes: stream and webhook latency and the mixed load.

``make bench`` prints its service figures from ``benchmarks/service_bench.py``; a refactor that
breaks a step of it would otherwise show only when someone runs the full comparison. This runs
every configuration (1 and 4 workers, SQLite and PostgreSQL) with a few writes, a few
webhook deliveries and half a second of load each, and checks that each figure was measured
(every subscriber got every event once, every delivery was timed, every operation of the mix
answered as the contract allows), not how fast.
"""

from __future__ import annotations

from pathlib import Path

from tests.integration.bench_runs import modelplane_configs, run_smoke

OPS = ("read_latest", "read_production", "create", "forced", "unforced", "conditional")


def test_service_bench_measures_every_figure(tmp_path: Path) -> None:
    doc, with_postgres = run_smoke("service_bench.py", tmp_path)
    configs = doc["configs"]
    expected = modelplane_configs(with_postgres)
    assert set(configs) == expected, sorted(configs)
    sizes = doc["sizes"]
    for name, config in configs.items():
        assert "error" not in config, (name, config)
        assert set(config["stream"]) == {"1", "50"}, name
        for count, stream in config["stream"].items():
            where = (name, count, stream)
            assert stream["subscribers"] == int(count), where
            assert stream["writes"] == sizes["stream_writes"], where
            # a creation appends two events, each sent to every subscriber once
            assert stream["events"] == 2 * stream["writes"], where
            assert (stream["missing"], stream["duplicates"], stream["unattributed"]) == (0, 0, 0)
            assert stream["pairs"] == int(count) * stream["events"], where
            for figure in ("from_ack", "from_send"):
                assert stream[figure]["n"] == stream["pairs"], where
            assert stream["from_send"]["p50_ms"] > 0, where
            assert stream["write"]["n"] == stream["writes"], where
        hooks = config["webhooks"]
        assert hooks["events"] == sizes["webhook_events"], (name, hooks)
        # every delivery was timed, and each arrives after its append was sent
        assert 0 < hooks["after_request"]["p50_ms"] <= hooks["after_request"]["max_ms"], hooks
        load = config["load"]
        assert load["errors"] == 0, (name, load["error_samples"])
        assert load["clients"] == 16 and load["req_per_s"] > 0, (name, load)
        assert load["client_cores"] > 0 and load["server_cores"] > 0, (name, load)
        assert set(load["ops"]) == set(OPS), name
        for op in OPS:
            assert load["ops"][op]["n"] > 0, (name, op, load["statuses"])
        assert load["requests"] == sum(load["statuses"].values()), (name, load)
    assert ("postgres" in doc["skipped"]) == (not with_postgres)
