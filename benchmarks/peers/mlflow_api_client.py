"""The client side of the MLflow-API comparison: one ``MlflowClient`` against one server.

``mlflow_api_bench.py`` runs this script once per server, always with the same interpreter
(the MLflow peer venv's, or the project's own ``mlflow-skinny`` for the smoke test), so the
same client package and the same code measure ``mlflow server`` and modelplane; only the URL
and ``MLFLOW_TRACKING_TOKEN`` (modelplane's token; unset for MLflow) differ. Kept to mlflow
and the standard library, and importable without mlflow (the orchestrator reads ``Sizes``).

- sequential: after ``warmup`` untimed calls, ``calls`` timed calls of each op, one at a time:
  ``create_model`` (a new model each call), ``create_version``, ``set_alias`` (moving
  ``champion`` to another version each call), ``get_by_alias``, ``search_versions`` (a model's
  versions, 10 a page), ``search_models`` (a name prefix, 10 a page) and ``set_tag`` (a model
  tag, a new value each call), all on one model seeded with ``seed_versions`` versions;
- throughput: ``clients`` processes (spawned, one ``MlflowClient`` each) wait at a barrier,
  then each runs ``rounds`` rounds of the mixed sequence: create a model, create its version,
  set its alias, get the version by alias, search its versions, search models by prefix, set
  a tag. Calls/s over the span from the first start to the last end; a call that raises is
  counted as an error, not timed.

Prints one JSON object on stdout (progress on stderr).
"""

from __future__ import annotations

import argparse
import json
import logging
import multiprocessing
import os
import queue
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from _common import Samples, capture_stdout, emit, log

if TYPE_CHECKING:
    from mlflow import MlflowClient

SOURCE = "s3://bench/model"
ALIAS = "champion"
PAGE = 10
START_TIMEOUT_S = 300.0  # 16 processes importing mlflow on 2 cores
LOAD_TIMEOUT_S = 1_800.0
#: the ops in the order they are measured (and shown)
OPS: tuple[str, ...] = (
    "create_model",
    "create_version",
    "set_alias",
    "get_by_alias",
    "search_versions",
    "search_models",
    "set_tag",
)


@dataclass(frozen=True)
class Sizes:
    """How many calls each measurement makes; the same for every server, recorded."""

    seed_versions: int = 20
    warmup: int = 20
    calls: int = 500
    clients: int = 16
    rounds: int = 40

    @classmethod
    def quick(cls) -> Sizes:
        return cls(seed_versions=12, warmup=5, calls=100, clients=16, rounds=8)

    @classmethod
    def smoke(cls) -> Sizes:
        return cls(seed_versions=3, warmup=2, calls=5, clients=4, rounds=2)


def _quiet() -> None:
    """No telemetry, and one attempt per call: a refused call is an error in the figures,
    not a retry hidden in the latency (both servers are on loopback and answer at once).
    MLflow's INFO line per created version ("Waiting up to 300 seconds ...") is dropped."""
    os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
    os.environ["DO_NOT_TRACK"] = "true"
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"


def _client(url: str) -> MlflowClient:
    from mlflow import MlflowClient

    logging.getLogger("mlflow").setLevel(logging.WARNING)  # after the import, which sets INFO
    return MlflowClient(tracking_uri=url, registry_uri=url)


# ----------------------------------------------------------------- sequential


def _timed(samples: Samples, fn: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    value = fn()
    samples.append((time.perf_counter() - start) * 1000.0)
    return value


def sequential(url: str, sizes: Sizes, prefix: str) -> dict[str, Samples]:
    """Each op ``warmup`` times untimed, then ``calls`` times timed, every answer checked."""
    client = _client(url)
    model = f"{prefix}seq"
    client.create_registered_model(model)
    for _ in range(sizes.seed_versions):
        client.create_model_version(model, SOURCE, run_id="run")
    counter = iter(range(10**9))
    state: dict[str, str] = {}

    def create_model() -> None:
        created = client.create_registered_model(f"{prefix}m{next(counter):06}")
        assert created.name.startswith(prefix), created

    def create_version() -> None:
        created = client.create_model_version(model, SOURCE, run_id="run")
        assert created.status == "READY", created

    def set_alias() -> None:
        version = str(1 + next(counter) % sizes.seed_versions)
        client.set_registered_model_alias(model, ALIAS, version)
        state["alias"] = version

    def get_by_alias() -> None:
        found = client.get_model_version_by_alias(model, ALIAS)
        assert found.version == state["alias"], (found.version, state)

    made = sizes.warmup + sizes.calls  # models by create_model, versions by create_version

    def search_versions() -> None:
        found = client.search_model_versions(f"name = '{model}'", max_results=PAGE)
        assert len(found) == min(PAGE, sizes.seed_versions + made), found
        assert all(v.name == model for v in found), found

    def search_models() -> None:
        found = client.search_registered_models(f"name LIKE '{prefix}m%'", max_results=PAGE)
        assert len(found) == min(PAGE, made), found

    def set_tag() -> None:
        client.set_registered_model_tag(model, "note", f"n{next(counter)}")

    calls: dict[str, Callable[[], None]] = {
        "create_model": create_model,
        "create_version": create_version,
        "set_alias": set_alias,
        "get_by_alias": get_by_alias,
        "search_versions": search_versions,
        "search_models": search_models,
        "set_tag": set_tag,
    }
    ops: dict[str, Samples] = {}
    for op in OPS:
        log(f"sequential {op} x{sizes.calls} (after {sizes.warmup} untimed)")
        for _ in range(sizes.warmup):
            calls[op]()
        samples: Samples = []
        for _ in range(sizes.calls):
            _timed(samples, calls[op])
        ops[op] = samples
    return ops


# ----------------------------------------------------------------- throughput


def _round(client: MlflowClient, name: str, family: str, latencies: dict[str, Samples]) -> None:
    """One pass of the mixed sequence on a model of its own."""
    _timed(latencies["create_model"], lambda: client.create_registered_model(name))
    created = _timed(
        latencies["create_version"], lambda: client.create_model_version(name, SOURCE, "run")
    )
    _timed(
        latencies["set_alias"],
        lambda: client.set_registered_model_alias(name, ALIAS, created.version),
    )
    found = _timed(
        latencies["get_by_alias"], lambda: client.get_model_version_by_alias(name, ALIAS)
    )
    assert found.version == created.version, (found, created)
    versions = _timed(
        latencies["search_versions"],
        lambda: client.search_model_versions(f"name = '{name}'", max_results=PAGE),
    )
    assert [v.version for v in versions] == [created.version], versions
    _timed(
        latencies["search_models"],
        lambda: client.search_registered_models(f"name LIKE '{family}%'", max_results=PAGE),
    )
    _timed(latencies["set_tag"], lambda: client.set_registered_model_tag(name, "state", "ok"))


def _load_client(
    url: str, prefix: str, index: int, rounds: int, barrier: Any, results: Any
) -> None:
    """One client process: import and connect, wait for the others, run its rounds."""
    _quiet()
    client = _client(url)
    family = f"{prefix}c{index:02}-"
    client.search_registered_models(max_results=1)  # imports done, the session is open
    barrier.wait(timeout=START_TIMEOUT_S)
    latencies: dict[str, Samples] = {op: [] for op in OPS}
    errors: list[str] = []
    start = time.perf_counter()  # CLOCK_MONOTONIC: one clock for every process
    for r in range(rounds):
        try:
            _round(client, f"{family}{r:04}", family, latencies)
        except Exception as exc:  # a refused or failed call: counted, and the round dropped
            errors.append(f"{type(exc).__name__}: {exc}"[:300])
    end = time.perf_counter()
    results.put({"start": start, "end": end, "latencies": latencies, "errors": errors})


def throughput(url: str, sizes: Sizes, prefix: str) -> dict[str, Any]:
    """``clients`` processes at once, ``rounds`` rounds each of the mixed sequence."""
    ctx = multiprocessing.get_context("spawn")  # a fresh interpreter, as a separate user
    barrier = ctx.Barrier(sizes.clients)
    results = ctx.Queue()
    procs = [
        ctx.Process(
            target=_load_client,
            args=(url, prefix, i, sizes.rounds, barrier, results),
            daemon=True,
        )
        for i in range(sizes.clients)
    ]
    runs: list[dict[str, Any]] = []
    deadline = time.monotonic() + LOAD_TIMEOUT_S
    try:
        for proc in procs:
            proc.start()
        while len(runs) < sizes.clients:
            try:
                runs.append(results.get(timeout=1.0))
            except queue.Empty:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"clients not done in {LOAD_TIMEOUT_S:.0f} s") from None
                if not any(p.is_alive() for p in procs) and results.empty():
                    raise RuntimeError("a load client died (its traceback is above)") from None
    finally:
        for proc in procs:
            proc.join(5)
            if proc.is_alive():
                proc.terminate()
                proc.join(5)
    wall = max(r["end"] for r in runs) - min(r["start"] for r in runs)
    latencies = {op: [x for r in runs for x in r["latencies"][op]] for op in OPS}
    calls = sum(len(samples) for samples in latencies.values())
    errors = [e for r in runs for e in r["errors"]]
    return {
        "clients": sizes.clients,
        "client_kind": "processes, one MlflowClient each",
        "rounds_per_client": sizes.rounds,
        "calls": calls,
        "errors": len(errors),
        "first_errors": errors[:5],
        "wall_s": wall,
        "calls_per_s": calls / wall,
        "latencies": latencies,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="the server's root, e.g. http://h:p")
    parser.add_argument("--sizes", required=True, help="Sizes as JSON")
    args = parser.parse_args()
    sizes = Sizes(**json.loads(args.sizes))
    out = capture_stdout()
    _quiet()
    import mlflow

    prefix = f"b{uuid.uuid4().hex[:6]}-"
    log(f"mlflow {mlflow.__version__} client against {args.url}")
    ops = sequential(args.url, sizes, prefix)
    log(f"{sizes.clients} client processes x {sizes.rounds} rounds of {len(OPS)} calls")
    load = throughput(args.url, sizes, prefix)
    emit(
        out,
        {
            "client": f"mlflow {mlflow.__version__}",
            "python": sys.executable,
            "sizes": asdict(sizes),
            "ops": ops,
            "throughput": load,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
