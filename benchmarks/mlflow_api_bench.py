"""One MLflow client, the same calls, against ``mlflow server`` and against modelplane's
MLflow API (``/api/2.0/mlflow``), in the same run.

Each configuration gets a fresh store and a fresh server (``http_bench``'s helpers: a temp dir
or a PostgreSQL database made and dropped here, the server in a session of its own, stopped by
its process group): modelplane with 1 and 4 workers, MLflow with its default 4, on SQLite and
on PostgreSQL. The client side is ``peers/mlflow_api_client.py``, run as a child process by
one interpreter for every server: the MLflow peer venv's (``mlflow`` 3.17.2), or with
``--no-mlflow`` and no venv the project's own (``mlflow-skinny``). Only the URL differs, and
for modelplane ``MLFLOW_TRACKING_TOKEN`` (a ``write`` token made for the run), which is how an
MLflow user points the client at it. See that file for what is measured: per call p50/p95 of
create model, create version, set alias, get by alias, search versions, search models and set
tag, one at a time after a warm-up; and calls/s of 16 client processes (one ``MlflowClient``
each) running the same calls as a mixed sequence.

Targets (printed, never asserted): modelplane faster than MLflow on every call (p50), and at
least 3x MLflow's calls/s, on the same store. Prints one JSON object on stdout (progress on
stderr); ``run.py --mlflow-api`` prints the tables and writes ``mlflow-api-<UTC>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from types import FrameType
from typing import Any

HERE = Path(__file__).resolve().parent
for folder in (HERE, HERE / "peers"):  # the client module imports ``_common`` by itself
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))

from bench_modelplane import fresh_store  # noqa: E402
from http_bench import (  # noqa: E402
    MLFLOW_VENV,
    REQUEST_TIMEOUT_S,
    Config,
    Server,
    configs,
    mlflow_available,
    mlflow_server,
    modelplane_server,
)
from mlflow_api_client import OPS, Sizes  # noqa: E402
from peers._common import Samples, capture_stdout, emit, log, run_json_child  # noqa: E402

CLIENT = HERE / "peers" / "mlflow_api_client.py"
MLFLOW_PYTHON = MLFLOW_VENV / "bin" / "python"
THROUGHPUT_FACTOR = 3.0
TOKEN_NAME = "mlflow-api-bench"


# -------------------------------------------------------------------- one run


def _root(server: Server) -> str:
    """What an MLflow user passes as tracking and registry URI: the server's root."""
    return server.url.removesuffix("/api/v1").removesuffix("/api/2.0/mlflow")


def _write_token(server: Server) -> str:
    """A ``write`` token, made the way an operator makes one (POST /tokens as admin)."""
    import httpx

    response = httpx.post(
        f"{server.url}/tokens",
        json={"name": TOKEN_NAME, "role": "write"},
        headers=server.headers,
        timeout=REQUEST_TIMEOUT_S,
    )
    if response.status_code != 201:
        raise RuntimeError(f"POST /tokens: {response.status_code} {response.text[:300]}")
    return str(response.json()["token"])


def _client_env(token: str | None) -> dict[str, str]:
    """This environment without modelplane's or MLflow's pointers, plus the token if any."""
    drop = ("MODELPLANE_", "MLFLOW_TRACKING_", "MLFLOW_REGISTRY_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    if token is not None:
        env["MLFLOW_TRACKING_TOKEN"] = token
    return env


def drive(python: str, server: Server, token: str | None, sizes: Sizes, home: Path) -> Any:
    """Run the client child against ``server``; its JSON answer."""
    argv = [python, str(CLIENT), "--url", _root(server), "--sizes", json.dumps(asdict(sizes))]
    child = run_json_child(argv, home / "client.out", env=_client_env(token), cwd=str(home))
    if child.result is None:
        raise RuntimeError(f"the client exited with {child.returncode} (its stderr is above)")
    return child.result


def run_config(config: Config, sizes: Sizes, python: str) -> dict[str, Any]:
    """Fresh store, fresh server, the client child; server stopped and store dropped after."""
    serve = modelplane_server if config.system == "modelplane" else mlflow_server
    result: dict[str, Any] = asdict(config) | {"name": config.name}
    with fresh_store(config.store) as store_env, serve(config, store_env) as server:
        log(f"{config.name}: up in {server.start_s:.1f} s (pid {server.process.pid})")
        result["start_s"] = server.start_s
        token = _write_token(server) if config.system == "modelplane" else None
        answer = drive(python, server, token, sizes, Path(store_env["MODELPLANE_HOME"]))
    load = answer["throughput"]
    result["client"] = answer["client"]
    result["ops"] = answer["ops"]
    result["summary"] = {op: summary(s) for op, s in answer["ops"].items()}
    result["throughput"] = {k: v for k, v in load.items() if k != "latencies"}
    result["throughput"]["under_load"] = {
        op: summary(s) for op, s in load["latencies"].items() if s
    }
    return result


def summary(samples: Samples) -> dict[str, float]:
    data = sorted(samples)
    p95 = statistics.quantiles(data, n=20, method="inclusive")[18] if len(data) > 1 else data[0]
    return {"n": len(data), "p50_ms": statistics.median(data), "p95_ms": p95}


def run_all(
    chosen: list[Config], sizes: Sizes, python: str, skipped: dict[str, str]
) -> dict[str, Any]:
    """Every configuration in turn; one that fails is recorded as such, the rest still run."""
    results: dict[str, Any] = {}
    for config in chosen:
        try:
            results[config.name] = run_config(config, sizes, python)
        except (OSError, RuntimeError, AssertionError, ValueError, KeyError) as exc:
            log(f"{config.name}: FAILED {type(exc).__name__}: {exc}")
            results[config.name] = asdict(config) | {
                "name": config.name,
                "error": f"{type(exc).__name__}: {exc}",
            }
    return {
        "system": "mlflow-api",
        "client_python": python,
        "sizes": asdict(sizes),
        "ops": list(OPS),
        "configs": results,
        "skipped": skipped,
        "targets": target_verdicts(results),
    }


# ------------------------------------------------------------------- targets


def _p50(results: Mapping[str, Any], name: str, op: str) -> float | None:
    value = results.get(name, {}).get("summary", {}).get(op, {}).get("p50_ms")
    return None if value is None else float(value)


def _rate(results: Mapping[str, Any], name: str) -> float | None:
    value = results.get(name, {}).get("throughput", {}).get("calls_per_s")
    return None if value is None else float(value)


def _peer(results: Mapping[str, Any], name: str) -> str:
    return Config("mlflow", results[name]["store"], 4).name


def latency_ratio(results: Mapping[str, Any], name: str, op: str) -> float | None:
    """modelplane p50 / MLflow p50 on the same store (below 1: modelplane is faster)."""
    mine, theirs = _p50(results, name, op), _p50(results, _peer(results, name), op)
    return None if mine is None or not theirs else mine / theirs


def throughput_ratio(results: Mapping[str, Any], name: str) -> float | None:
    """modelplane calls/s / MLflow calls/s on the same store (above 1: modelplane does more)."""
    mine, theirs = _rate(results, name), _rate(results, _peer(results, name))
    return None if mine is None or not theirs else mine / theirs


def targets_of(results: Mapping[str, Any], name: str) -> list[tuple[str, bool | None, str]]:
    """(target, met?, figure) for one modelplane configuration; None when not measurable."""
    peer = _peer(results, name)
    out: list[tuple[str, bool | None, str]] = []
    for op in OPS:
        ratio = latency_ratio(results, name, op)
        out.append(
            (
                f"{op} p50 below {peer}'s",
                None if ratio is None else ratio < 1.0,
                "-" if ratio is None else f"{ratio:.2f}x",
            )
        )
    ratio = throughput_ratio(results, name)
    out.append(
        (
            f"calls/s >= {THROUGHPUT_FACTOR:g}x {peer}",
            None if ratio is None else ratio >= THROUGHPUT_FACTOR,
            "-" if ratio is None else f"{ratio:.1f}x",
        )
    )
    return out


def target_verdicts(results: Mapping[str, Any]) -> list[dict[str, str]]:
    """Every modelplane configuration's targets, judged (never asserted)."""
    return [
        {"config": name, "target": target, "verdict": _verdict(ok), "figure": figure}
        for name, res in results.items()
        if res.get("system") == "modelplane" and "error" not in res
        for target, ok, figure in targets_of(results, name)
    ]


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else "met" if ok else "missed"


# -------------------------------------------------------------------- tables


def _ms(value: float) -> str:
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


def tables(doc: Mapping[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """One table per store: a row per call (p50/p95 ms, modelplane/MLflow p50 ratios, the
    verdicts), then the throughput row (calls/s and its ratios)."""
    results: Mapping[str, Any] = doc["configs"]
    sizes = doc["sizes"]
    out = []
    for store in dict.fromkeys(r["store"] for r in results.values()):
        names = [n for n, r in results.items() if r["store"] == store]
        ok = [n for n in names if "error" not in results[n]]
        mine = [n for n in ok if results[n]["system"] == "modelplane"]
        peer = Config("mlflow", store, 4).name
        header = ["call", *[f"{n} p50/p95 ms" for n in ok]]
        header += [f"{n.removeprefix('modelplane-')}/mlflow" for n in mine] + ["targets"]
        rows: list[list[str]] = []
        for op in doc["ops"]:
            row = [op]
            for n in ok:
                s = results[n]["summary"][op]
                row.append(f"{_ms(s['p50_ms'])} / {_ms(s['p95_ms'])}")
            ratios = [latency_ratio(results, n, op) for n in mine]
            row += ["-" if r is None else f"{r:.2f}" for r in ratios]
            row.append(_verdicts_cell(results, mine, f"{op} p50"))
            rows.append(row)
        row = [f"calls/s, {sizes['clients']} clients"]
        for n in ok:
            tp = results[n]["throughput"]
            errors = f" ({tp['errors']} errors)" if tp["errors"] else ""
            row.append(f"{tp['calls_per_s']:,.0f}{errors}")
        ratios = [throughput_ratio(results, n) for n in mine]
        row += ["-" if r is None else f"{r:.1f}x" for r in ratios]
        row.append(_verdicts_cell(results, mine, "calls/s"))
        rows.append(row)
        for n in names:
            if "error" in results[n]:
                rows.append([n, "FAILED", results[n]["error"][:80], *[""] * (len(header) - 3)])
        title = (
            f"MLflow API on {store}: one MLflow client against "
            f"{peer if peer in results else '(MLflow not run)'} and modelplane "
            f"(p50/p95 of {sizes['calls']} sequential calls each; calls/s of "
            f"{sizes['clients']} client processes x {sizes['rounds']} rounds of the "
            f"{len(doc['ops'])} calls; ratio columns: modelplane/MLflow p50, and calls/s)"
        )
        out.append((title, header, rows))
    return out


def _verdicts_cell(results: Mapping[str, Any], mine: list[str], target: str) -> str:
    cells = []
    for name in mine:
        for label, ok, _figure in targets_of(results, name):
            if label.startswith(target):
                cells.append(f"w{results[name]['workers']} {_verdict(ok)}")
    return ", ".join(cells)


# ---------------------------------------------------------------------- main


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM as Ctrl-C, so the ``finally`` blocks stop the servers either way."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main() -> int:
    """Parse args, pick the client interpreter, run the configurations, print the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="fewer calls, the same shape")
    size.add_argument("--smoke", action="store_true", help="a few calls each (the tests')")
    parser.add_argument("--no-mlflow", action="store_true", help="modelplane only")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument(
        "--only", help="comma-separated configuration names, e.g. modelplane-sqlite-w4"
    )
    parser.add_argument(
        "--client-python",
        help="the interpreter of the client side (default: the MLflow venv's if it exists, "
        "else this one, whose mlflow-skinny is the project's test client)",
    )
    args = parser.parse_args()
    sizes = Sizes.smoke() if args.smoke else Sizes.quick() if args.quick else Sizes()
    out = capture_stdout()
    skipped: dict[str, str] = {}
    want_mlflow = not args.no_mlflow
    if args.no_mlflow:
        skipped["mlflow"] = "--no-mlflow"
    else:
        why = mlflow_available(not args.no_postgres)
        if why is not None:
            skipped["mlflow"] = why
            want_mlflow = False
    if args.no_postgres:
        skipped["postgres"] = "--no-postgres"
    # one client package for every server: MLflow's own when its venv is there
    python = args.client_python or (
        str(MLFLOW_PYTHON) if MLFLOW_PYTHON.exists() else sys.executable
    )
    chosen = configs(want_mlflow, not args.no_postgres)
    if args.only:
        names = set(args.only.split(","))
        chosen = [c for c in chosen if c.name in names]
    with _sigterm_as_interrupt():
        emit(out, run_all(chosen, sizes, python, skipped))
    return 0


if __name__ == "__main__":
    sys.exit(main())
