"""HTTP figures: modelplane's server against ``mlflow server``, over loopback on this machine.

Each configuration gets a fresh store (a temp dir, or a PostgreSQL database created in
``test`` and dropped afterwards) and a fresh server, started in a session of its own and
stopped by its process group id in a ``finally`` (also on Ctrl-C and SIGTERM): uvicorn's
workers and MLflow's job consumers are children that would outlive a signal to the parent
alone. The same httpx client code drives both systems, so the figures differ only by server:

- sequential: p50/p95 of get-by-stage (MLflow: get version by alias) and create-version over
  one keep-alive connection;
- throughput: ``clients`` processes, each with its own keep-alive connection, share a fixed
  count of get-by-stage requests; req/s over the span from the first start to the last end;
- modelplane only: ``Client().get_model_version(name, "production")`` in local mode on the
  same store against remote mode through the server, and the wall time of
  ``modelplane model list`` (a fresh process) in remote mode and local mode.

Prints one JSON object on stdout (progress on stderr); ``run.py --http`` prints the table.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import queue
import signal
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # the throughput clients are spawned with this module's path
    sys.path.insert(0, str(HERE))

from bench_modelplane import fresh_store  # noqa: E402
from peers._common import Samples, capture_stdout, emit, log, time_subprocess  # noqa: E402

PEERS = HERE / "peers"
MLFLOW_VENV = HERE / ".venvs" / "mlflow"
#: MLflow's venv has no PostgreSQL driver of its own; installed into it on first need
MLFLOW_PG_REQUIREMENTS = PEERS / "requirements-mlflow-postgres.txt"
START_TIMEOUT_S = 180.0  # MLflow takes 11-21 s to answer /health on this machine
STOP_GRACE_S = 30.0  # MLflow's job consumers take ~20 s to exit on SIGTERM
REQUEST_TIMEOUT_S = 30.0
LOAD_TIMEOUT_S = 900.0  # one throughput run, all clients, start to end
MODEL = "big"
STAGE = "production"
MP_GET_BY_STAGE_P50_MS = 2.0
THROUGHPUT_FACTOR = 10.0


@dataclass(frozen=True)
class HttpSizes:
    """How many requests each measurement makes; recorded in the result."""

    seed_versions: int = 100
    warmup: int = 50
    sequential_gets: int = 2_000
    sequential_creates: int = 500
    clients: int = 16
    throughput_requests: int = 4_000
    sdk_calls: int = 500
    cli_runs: int = 10

    @classmethod
    def quick(cls) -> HttpSizes:
        """`run.py --quick`: the same shape, an order of magnitude fewer requests."""
        return cls(20, 10, 200, 50, 16, 800, 50, 3)

    @classmethod
    def smoke(cls) -> HttpSizes:
        """The integration test's: seconds, only to prove every step still runs."""
        return cls(3, 2, 10, 5, 4, 40, 5, 1)


@dataclass(frozen=True)
class Config:
    """One server under test."""

    system: str  # "modelplane" or "mlflow"
    store: str  # "sqlite" or "postgres"
    workers: int

    @property
    def name(self) -> str:
        return f"{self.system}-{self.store}-w{self.workers}"


def configs(mlflow: bool, postgres: bool) -> list[Config]:
    """modelplane with 1 and 4 workers, MLflow with its default 4, on each store."""
    stores = ["sqlite", "postgres"] if postgres else ["sqlite"]
    out = [Config("modelplane", s, w) for s in stores for w in (1, 4)]
    if mlflow:
        out += [Config("mlflow", s, 4) for s in stores]
    return out


# -------------------------------------------------------------------- servers


@dataclass
class Server:
    """A running server: its process (the leader of its own process group) and where it is."""

    process: subprocess.Popen[bytes]
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    token: str | None = None
    start_s: float = 0.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running(
    argv: list[str], env: Mapping[str, str], cwd: Path, health: str, log_path: Path
) -> Iterator[subprocess.Popen[bytes]]:
    """Start ``argv`` in a new session, yield once ``health`` answers 200, always stop it.

    The new session keeps a Ctrl-C on the terminal away from the server (this process stops
    it instead, in order) and makes its pid the group id that reaches all its children.
    """
    import httpx

    with log_path.open("wb") as out:
        process = subprocess.Popen(
            argv,
            env=dict(env),
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    log(f"started pid {process.pid}: {' '.join(argv[:3])} ...")
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                tail = log_path.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"server exited with {process.returncode}: {tail}")
            try:
                if httpx.get(health, timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server did not answer {health} in {START_TIMEOUT_S:.0f} s")
            time.sleep(0.1)
        yield process
    finally:
        stop_group(process)


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server's process group, SIGKILL to what is left after the grace."""
    pgid = process.pid  # the session leader's pid is its group's id
    _signal_group(pgid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    with suppress(subprocess.TimeoutExpired):
        process.wait(STOP_GRACE_S)
    # The group can outlive its leader (children still shutting down): wait for it too.
    while time.monotonic() < deadline and _group_alive(pgid):
        time.sleep(0.2)
    if _group_alive(pgid):
        log(f"pid group {pgid} still alive after {STOP_GRACE_S:.0f} s: SIGKILL")
        _signal_group(pgid, signal.SIGKILL)
    if process.poll() is None:
        process.wait(10)
    log(f"stopped pid group {pgid}")


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _clean_env(home: Path) -> dict[str, str]:
    """This environment without any pointer to another store, server or saved login."""
    drop = (
        "MODELPLANE_SERVER_URL",
        "MODELPLANE_API_TOKEN",
        "MODELPLANE_STORE_URL",
        "MODELPLANE_ACTOR",
        "MODELPLANE_HOME",
    )
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env["MODELPLANE_HOME"] = str(home)
    env["XDG_CONFIG_HOME"] = str(home / "config")
    return env


@contextmanager
def modelplane_server(config: Config, store_env: dict[str, str]) -> Iterator[Server]:
    """``modelplane server start`` on the store of ``store_env``, with its admin token."""
    home = Path(store_env["MODELPLANE_HOME"])
    env = _clean_env(home)
    if "MODELPLANE_STORE_URL" in store_env:
        env["MODELPLANE_STORE_URL"] = store_env["MODELPLANE_STORE_URL"]
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "modelplane",
        "server",
        "start",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(config.workers),
    ]
    url = f"http://127.0.0.1:{port}"
    start = time.perf_counter()
    with running(argv, env, home, f"{url}/api/v1/health", home / "server.log") as process:
        token = (home / "server-admin-token").read_text(encoding="utf-8").strip()
        yield Server(
            process,
            f"{url}/api/v1",
            {"Authorization": f"Bearer {token}"},
            token,
            time.perf_counter() - start,
        )


@contextmanager
def mlflow_server(config: Config, store_env: dict[str, str]) -> Iterator[Server]:
    """``mlflow server`` (its defaults but the store, host and port) on a fresh store."""
    home = Path(store_env["MODELPLANE_HOME"])
    pg = store_env.get("MODELPLANE_STORE_URL")
    # MLflow's venv has psycopg2 only, named outright: SQLAlchemy 2.1 reads a bare
    # ``postgresql://`` as psycopg 3
    uri = (
        pg.replace("postgresql+psycopg://", "postgresql+psycopg2://")
        if pg
        else (f"sqlite:///{home / 'mlflow.db'}")
    )
    env = {**_clean_env(home), "MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    port = free_port()
    argv = [
        str(MLFLOW_VENV / "bin" / "mlflow"),
        "server",
        "--backend-store-uri",
        uri,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(config.workers),
    ]
    url = f"http://127.0.0.1:{port}"
    start = time.perf_counter()
    with running(argv, env, home, f"{url}/health", home / "server.log") as process:
        yield Server(process, f"{url}/api/2.0/mlflow", {}, None, time.perf_counter() - start)


def mlflow_available(postgres: bool) -> str | None:
    """Why MLflow cannot run (None if it can); installs its PostgreSQL driver if needed."""
    python = MLFLOW_VENV / "bin" / "python"
    if not (MLFLOW_VENV / "bin" / "mlflow").exists():
        return f"no MLflow venv at {MLFLOW_VENV} (run peers/setup.sh mlflow)"
    if not postgres:
        return None
    probe = [str(python), "-c", "import psycopg2"]
    if subprocess.run(probe, check=False, capture_output=True).returncode == 0:
        return None
    log(f"installing {MLFLOW_PG_REQUIREMENTS.name} into the MLflow venv")
    pip = [
        str(python),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "-r",
        str(MLFLOW_PG_REQUIREMENTS),
    ]
    if subprocess.run(pip, check=False).returncode != 0:
        return "psycopg2 could not be installed into the MLflow venv"
    return None


# ------------------------------------------------------------------ the routes


@dataclass(frozen=True)
class Routes:
    """One system's requests for the same three things: seed, read by stage, create."""

    get_path: str
    get_params: dict[str, str]
    create_path: str
    create_body: dict[str, str]
    #: the version number a get-by-stage answer names
    answer: Callable[[Any], int]


MP_ROUTES = Routes(
    get_path=f"/models/{MODEL}/model_versions/{STAGE}",
    get_params={},
    create_path="/model_versions",
    create_body={"model": MODEL},
    answer=lambda body: int(body["number"]),
)
MLFLOW_ROUTES = Routes(
    get_path="/registered-models/alias",
    get_params={"name": MODEL, "alias": STAGE},
    create_path="/model-versions/create",
    create_body={"name": MODEL, "source": "s3://bench/model"},
    answer=lambda body: int(body["model_version"]["version"]),
)


def _ok(response: Any) -> Any:
    if response.status_code >= 300:
        msg = f"{response.request.method} {response.request.url}: {response.status_code} "
        raise RuntimeError(msg + response.text[:500])
    return response.json() if response.content else None


def seed(system: str, http: Any, versions: int) -> None:
    """A model with ``versions`` versions, the last in production (MLflow: its alias)."""
    if system == "modelplane":
        _ok(http.post("/models", json={"name": MODEL}))
        last = None
        for _ in range(versions):
            last = _ok(http.post("/model_versions", json={"model": MODEL}))
        assert last is not None
        body = {"stage": STAGE, "force": True}
        _ok(http.put(f"/model_versions/{last['id']}", json=body))
        return
    _ok(http.post("/registered-models/create", json={"name": MODEL}))
    for _ in range(versions):
        _ok(http.post("/model-versions/create", json=MLFLOW_ROUTES.create_body))
    alias = {"name": MODEL, "alias": STAGE, "version": str(versions)}
    _ok(http.post("/registered-models/alias", json=alias))


def sequential(fn: Callable[[], Any], count: int, warmup: int) -> Samples:
    """Wall ms of ``count`` calls one after another, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        fn()
    samples: Samples = []
    for _ in range(count):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000.0)
    return samples


# ----------------------------------------------------------------- throughput


def _load_client(
    url: str,
    headers: dict[str, str],
    path: str,
    params: dict[str, str],
    count: int,
    barrier: Any,
    results: Any,
) -> None:
    """One client process: open its keep-alive connection, wait for the others, send."""
    import httpx

    latencies: Samples = []
    errors = 0
    with httpx.Client(base_url=url, headers=headers, timeout=REQUEST_TIMEOUT_S) as http:
        http.get(path, params=params).raise_for_status()  # the connection is now open
        barrier.wait(timeout=START_TIMEOUT_S)
        start = time.perf_counter()  # CLOCK_MONOTONIC: one clock for every process
        for _ in range(count):
            t0 = time.perf_counter()
            try:
                ok = http.get(path, params=params).status_code == 200
            except httpx.HTTPError:
                ok = False
            latencies.append((time.perf_counter() - t0) * 1000.0)
            errors += not ok
        end = time.perf_counter()
    results.put({"start": start, "end": end, "latencies": latencies, "errors": errors})


def throughput(server: Server, routes: Routes, clients: int, requests: int) -> dict[str, Any]:
    """``requests`` get-by-stage requests shared by ``clients`` processes at once."""
    ctx = multiprocessing.get_context("spawn")  # no inherited threads, store handles or fds
    barrier = ctx.Barrier(clients)
    results = ctx.Queue()
    share = [requests // clients + (i < requests % clients) for i in range(clients)]
    procs = [
        ctx.Process(
            target=_load_client,
            args=(
                server.url,
                server.headers,
                routes.get_path,
                routes.get_params,
                n,
                barrier,
                results,
            ),
            daemon=True,
        )
        for n in share
    ]
    runs: list[dict[str, Any]] = []
    deadline = time.monotonic() + LOAD_TIMEOUT_S
    try:
        for proc in procs:
            proc.start()
        while len(runs) < clients:
            try:
                runs.append(results.get(timeout=1.0))
            except queue.Empty:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"load clients not done in {LOAD_TIMEOUT_S:.0f} s") from None
                if not any(p.is_alive() for p in procs) and results.empty():
                    raise RuntimeError("a load client died (see its traceback above)") from None
    finally:
        for proc in procs:
            proc.join(5)
            if proc.is_alive():
                proc.terminate()
                proc.join(5)
    wall = max(r["end"] for r in runs) - min(r["start"] for r in runs)
    errors = sum(int(r["errors"]) for r in runs)
    latencies = sorted(x for r in runs for x in r["latencies"])
    return {
        "clients": clients,
        "requests": requests,
        "errors": errors,
        "wall_s": wall,
        "req_per_s": (requests - errors) / wall,
        "p50_ms": statistics.median(latencies),
        "p95_ms": _p95(latencies),
    }


def _p95(samples: Samples) -> float:
    data = sorted(samples)
    if len(data) < 2:
        return data[0]
    return statistics.quantiles(data, n=20, method="inclusive")[18]


# ------------------------------------------------------------ modelplane SDK


@contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """This process's environment set to ``values`` for the block, then restored."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def sdk_and_cli(
    server: Server, store_env: dict[str, str], sizes: HttpSizes, expected: int
) -> dict[str, Samples]:
    """SDK get-by-stage local vs remote (p50 per call) and CLI ``model list`` wall times."""
    from modelplane.backend.http import close_all as close_connections
    from modelplane.client import Client
    from modelplane.store_handle import close_all as close_stores

    home = Path(store_env["MODELPLANE_HOME"])
    local = _clean_env(home)
    if "MODELPLANE_STORE_URL" in store_env:
        local["MODELPLANE_STORE_URL"] = store_env["MODELPLANE_STORE_URL"]
    # remote: an empty home of its own, so only the server can show the seeded model
    remote_home = home / "remote-client"
    remote_home.mkdir(exist_ok=True)
    remote = _clean_env(remote_home)
    remote["MODELPLANE_SERVER_URL"] = server.url.removesuffix("/api/v1")
    remote["MODELPLANE_API_TOKEN"] = server.token or ""

    out: dict[str, Samples] = {}
    for mode, env in (("local", local), ("remote", remote)):
        try:
            with environment(env):
                client = Client()

                def get(client: Client = client) -> None:
                    version = client.get_model_version(MODEL, STAGE)
                    assert int(version.number) == expected, version.number

                out[f"sdk_get_by_stage_{mode}"] = sequential(get, sizes.sdk_calls, sizes.warmup)
        finally:
            close_connections()
            close_stores()
    cli = str(Path(sys.executable).parent / "modelplane")
    for mode, env in (("remote", remote), ("local", local)):
        out[f"cli_model_list_{mode}"] = time_subprocess(
            [cli, "model", "list"], sizes.cli_runs, env=env, expect=MODEL
        )
    return out


# ---------------------------------------------------------------------- runs


def run_config(config: Config, sizes: HttpSizes) -> dict[str, Any]:
    """Fresh store, fresh server, every measurement; server stopped and store dropped after."""
    import httpx

    routes = MP_ROUTES if config.system == "modelplane" else MLFLOW_ROUTES
    serve = modelplane_server if config.system == "modelplane" else mlflow_server
    result: dict[str, Any] = asdict(config) | {"name": config.name}
    with fresh_store(config.store) as store_env, serve(config, store_env) as server:
        result["pid"] = server.process.pid
        result["start_s"] = server.start_s
        log(f"{config.name}: up in {server.start_s:.1f} s (pid {server.process.pid})")
        with httpx.Client(
            base_url=server.url, headers=server.headers, timeout=REQUEST_TIMEOUT_S
        ) as http:
            seed(config.system, http, sizes.seed_versions)

            def get() -> None:
                body = _ok(http.get(routes.get_path, params=routes.get_params))
                assert routes.answer(body) == sizes.seed_versions, body

            def create() -> None:
                _ok(http.post(routes.create_path, json=routes.create_body))

            ops: dict[str, Samples] = {}
            log(f"{config.name}: sequential get-by-stage x{sizes.sequential_gets}")
            ops["get_by_stage"] = sequential(get, sizes.sequential_gets, sizes.warmup)
        log(f"{config.name}: {sizes.clients} clients x {sizes.throughput_requests} requests")
        result["throughput"] = throughput(server, routes, sizes.clients, sizes.throughput_requests)
        # Creates after the reads: every read above saw the same store.
        with httpx.Client(
            base_url=server.url, headers=server.headers, timeout=REQUEST_TIMEOUT_S
        ) as http:
            log(f"{config.name}: sequential create-version x{sizes.sequential_creates}")
            ops["create_version"] = sequential(create, sizes.sequential_creates, sizes.warmup)
        if config.system == "modelplane":
            log(f"{config.name}: SDK local vs remote, CLI model list")
            ops |= sdk_and_cli(server, store_env, sizes, sizes.seed_versions)
        result["ops"] = ops
    return result


def summary(samples: Samples) -> dict[str, float]:
    return {"n": len(samples), "p50_ms": statistics.median(samples), "p95_ms": _p95(samples)}


def run_all(chosen: list[Config], sizes: HttpSizes, skipped: dict[str, str]) -> dict[str, Any]:
    """Every configuration in turn; one that fails is recorded as such, the rest still run."""
    results: dict[str, Any] = {}
    for config in chosen:
        try:
            res = run_config(config, sizes)
            res["summary"] = {op: summary(s) for op, s in res["ops"].items()}
        except (OSError, RuntimeError, AssertionError, ValueError) as exc:
            log(f"{config.name}: FAILED {type(exc).__name__}: {exc}")
            res = asdict(config) | {"name": config.name, "error": f"{type(exc).__name__}: {exc}"}
        results[config.name] = res
    return {
        "system": "http",
        "sizes": asdict(sizes),
        "configs": results,
        "skipped": skipped,
        "targets": target_verdicts(results),
    }


# ------------------------------------------------------------------- targets


def _p50(results: Mapping[str, Any], name: str, op: str) -> float | None:
    value = results.get(name, {}).get("summary", {}).get(op, {}).get("p50_ms")
    return None if value is None else float(value)


def _rps(results: Mapping[str, Any], name: str) -> float | None:
    value = results.get(name, {}).get("throughput", {}).get("req_per_s")
    return None if value is None else float(value)


def targets_of(results: Mapping[str, Any], name: str) -> list[tuple[str, bool | None, str]]:
    """(target, met?, figure) for one modelplane configuration; None when not measurable."""
    cfg = results[name]
    out: list[tuple[str, bool | None, str]] = []
    p50 = _p50(results, name, "get_by_stage")
    out.append(
        (
            f"get-by-stage p50 < {MP_GET_BY_STAGE_P50_MS:g} ms",
            None if p50 is None else p50 < MP_GET_BY_STAGE_P50_MS,
            "-" if p50 is None else f"{p50:.2f} ms",
        )
    )
    peer = Config("mlflow", cfg["store"], 4).name
    mine, theirs = _rps(results, name), _rps(results, peer)
    ratio = None if mine is None or not theirs else mine / theirs
    out.append(
        (
            f"req/s >= {THROUGHPUT_FACTOR:g}x {peer}",
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
        if res.get("system") == "modelplane"
        for target, ok, figure in targets_of(results, name)
    ]


def _verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else "met" if ok else "missed"


# --------------------------------------------------------------------- table


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if value < 100 else f"{value:.0f}"


def _pair(summary: Mapping[str, Any], op: str) -> str:
    s = summary.get(op)
    return "-" if s is None else f"{_ms(s['p50_ms'])} / {_ms(s['p95_ms'])}"


def table(doc: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the HTTP table: one row per server configuration."""
    header = [
        "server",
        "up s",
        "get-by-stage p50/p95 ms",
        "create-version p50/p95 ms",
        f"req/s ({doc['sizes']['clients']} clients)",
        "under load p50/p95 ms",
        "SDK get local/remote p50 ms",
        "CLI model list remote/local ms",
        "targets",
    ]
    results: Mapping[str, Any] = doc["configs"]
    rows: list[list[str]] = []
    for name, res in results.items():
        if "error" in res:
            rows.append([name, "FAILED", res["error"][:60], *[""] * (len(header) - 3)])
            continue
        s, tp = res["summary"], res["throughput"]
        sdk = "-"
        if "sdk_get_by_stage_local" in s:
            sdk = (
                f"{_ms(s['sdk_get_by_stage_local']['p50_ms'])} / "
                f"{_ms(s['sdk_get_by_stage_remote']['p50_ms'])}"
            )
        cli = "absent (no registry CLI)"
        if "cli_model_list_remote" in s:
            cli = (
                f"{_ms(s['cli_model_list_remote']['p50_ms'])} / "
                f"{_ms(s['cli_model_list_local']['p50_ms'])}"
            )
        errors = f" ({tp['errors']} errors)" if tp["errors"] else ""
        verdicts = (
            "; ".join(f"{t} {_verdict(ok)} ({fig})" for t, ok, fig in targets_of(results, name))
            if res["system"] == "modelplane"
            else ""
        )
        rows.append(
            [
                name,
                f"{res['start_s']:.1f}",
                _pair(s, "get_by_stage"),
                _pair(s, "create_version"),
                f"{tp['req_per_s']:,.0f}{errors}",
                f"{_ms(tp['p50_ms'])} / {_ms(tp['p95_ms'])}",
                sdk,
                cli,
                verdicts,
            ]
        )
    return header, rows


# ----------------------------------------------------------------------- main


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    """SIGTERM as Ctrl-C, so the ``finally`` blocks stop the servers either way."""
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    """Parse args, run the chosen configurations, print the JSON result on stdout."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="an order of magnitude fewer calls")
    size.add_argument("--smoke", action="store_true", help="a few calls each (the tests')")
    parser.add_argument("--no-mlflow", action="store_true", help="modelplane only")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument(
        "--only",
        help="comma-separated configuration names, e.g. modelplane-sqlite-w1,mlflow-sqlite-w4",
    )
    args = parser.parse_args()
    sizes = HttpSizes.smoke() if args.smoke else HttpSizes.quick() if args.quick else HttpSizes()
    signal.signal(signal.SIGTERM, _raise_interrupt)
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
    chosen = configs(want_mlflow, not args.no_postgres)
    if args.only:
        names = set(args.only.split(","))
        chosen = [c for c in chosen if c.name in names]
    emit(out, run_all(chosen, sizes, skipped))
    return 0


if __name__ == "__main__":
    sys.exit(main())
