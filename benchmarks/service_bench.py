"""Service figures: how soon a live event stream and a webhook deliver a write, and the mixed
load's pace.

Both against ``modelplane server start`` with 1 and 4 workers, on a fresh SQLite store and on a
fresh PostgreSQL database, one server per configuration (started in a session of its own and
stopped by its process group, by ``http_bench``'s helpers), over loopback, the clients sharing
the machine's cores with the server:

- stream latency: K subscribers (1, then 50) each hold ``GET /events/stream?after=<head>``
  open; one writer creates a version every ``interval_ms`` (a steady pace, not back to back),
  recording when it sent each request and when the answer came; each subscriber records when
  each event's ``data:`` line arrived. Latency is arrival minus the writer's acknowledgement
  (and minus its send), p50/p95 over every (subscriber, event) pair. The subscribers run in
  processes of their own, each one asyncio loop of ``httpx.AsyncClient`` streams, so fifty of
  them are neither fifty threads fighting over one GIL nor in the writer's process; every
  timestamp is ``time.perf_counter`` (CLOCK_MONOTONIC: one clock for every process). A stream
  waits on its server process's head watcher (``modelplane/head_watch.py``): woken at once by
  a write in its own process, and by one in another worker through PostgreSQL's NOTIFY or, on
  SQLite, the watcher's poll of the head (every 25 ms).
- webhooks: ``webhook_bench.measure`` on the same server: one webhook to a receiver in this
  process, one version created at a time after a random pause, each awaited at the receiver;
  latency from the append's answer (and from its send) to the delivery's arrival. With 4
  workers, the worker holding the webhook's lease is often not the one that took the write.
- load: the mix of ``tests/resilience/test_http_load.py`` (reads of the latest and of the
  production version, creations, forced, unforced and conditional promotions over 4 models that
  each have a production holder) by 16 clients for a fixed time, from 4 processes of 4 asyncio
  clients, each with its own keep-alive connection; requests/s over the span from the first
  start to the last end, and p50/p95 per operation. An answer the contract does not allow
  (anything but 2xx, 409 for an unforced promotion, 412 for a stale ``expected_holder``) or a
  transport error is counted as an error, not timed.

Prints one JSON object on stdout (progress on stderr); ``run.py --service`` prints the tables.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import queue
import random
import signal
import statistics
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from multiprocessing.context import ForkServerContext
from pathlib import Path
from typing import TYPE_CHECKING, Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # the client processes import this module by its path
    sys.path.insert(0, str(HERE))

from bench_modelplane import fresh_store  # noqa: E402
from http_bench import (  # noqa: E402
    REQUEST_TIMEOUT_S,
    START_TIMEOUT_S,
    Config,
    Server,
    _ok,
    _raise_interrupt,
    modelplane_server,
)
from peers._common import Samples, capture_stdout, emit, log  # noqa: E402
from webhook_bench import measure as measure_webhooks  # noqa: E402

if TYPE_CHECKING:
    import httpx

STREAM_MODEL = "stream"
WEBHOOK_MODEL = "webhook"
LOAD_MODELS = ("churn", "fraud", "rank", "price")
#: what each load operation is drawn with (test_http_load.py's mix)
MIX: tuple[tuple[str, int], ...] = (
    ("read_latest", 20),
    ("read_production", 20),
    ("create", 20),
    ("forced", 15),
    ("unforced", 10),
    ("conditional", 15),
)
#: the answers the contract allows for each operation; anything else is an error
ALLOWED: dict[str, tuple[int, ...]] = {
    "read_latest": (200,),
    "read_production": (200,),
    "create": (201,),
    "forced": (200,),
    "unforced": (200, 409),
    "conditional": (200, 412),
}
#: how long the subscribers may take to receive the last event once the writer is done
CATCH_UP_S = 60.0
#: how often a subscriber process checks whether every stream has what it waits for
MONITOR_S = 0.01
#: streams are open this long before the first write, so each is in its polling loop
SETTLE_S = 0.3


@dataclass(frozen=True)
class ServiceSizes:
    """How much each measurement does; recorded in the result."""

    stream_writes: int = 250
    interval_ms: float = 20.0
    subscribers: tuple[int, ...] = (1, 50)
    subscriber_processes: int = 2
    webhook_events: int = 100
    webhook_warmup: int = 10
    #: the most of the random pause before each webhook sample's append
    webhook_pause_s: float = 0.2
    load_seconds: float = 20.0
    load_processes: int = 4
    clients_per_process: int = 4

    @classmethod
    def quick(cls) -> ServiceSizes:
        """`run.py --quick`: the same shape, fewer writes and a shorter load."""
        return cls(stream_writes=60, webhook_events=30, load_seconds=5.0)

    @classmethod
    def smoke(cls) -> ServiceSizes:
        """The integration test's: seconds, only to prove every step still runs."""
        return cls(
            stream_writes=5,
            webhook_events=3,
            webhook_warmup=1,
            webhook_pause_s=0.05,
            load_seconds=0.5,
        )

    @property
    def clients(self) -> int:
        return self.load_processes * self.clients_per_process


def configs(postgres: bool) -> list[Config]:
    """modelplane with 1 and 4 workers on SQLite, then on PostgreSQL."""
    stores = ["sqlite", "postgres"] if postgres else ["sqlite"]
    return [Config("modelplane", s, w) for s in stores for w in (1, 4)]


def stats(samples: Sequence[float]) -> dict[str, float]:
    """Count, p50, p95 (inclusive quantiles) and max of some milliseconds."""
    data = sorted(samples)
    if not data:
        return {"n": 0}
    p95 = statistics.quantiles(data, n=20, method="inclusive")[18] if len(data) > 1 else data[0]
    return {"n": len(data), "p50_ms": statistics.median(data), "p95_ms": p95, "max_ms": data[-1]}


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (i < total % parts) for i in range(parts)]


def _clients() -> ForkServerContext:
    """Client processes forked from a server process that imported this module and httpx
    once and did nothing else: no inherited threads, connections or store handles, and none
    of the 0.2 s of CPU a spawned interpreter spends importing (a smoke run starts 28)."""
    ctx = multiprocessing.get_context("forkserver")
    assert isinstance(ctx, ForkServerContext)
    ctx.set_forkserver_preload(["__main__", "httpx"])
    return ctx


def _events_after(http: httpx.Client, after: int) -> list[dict[str, Any]]:
    """The log after ``after``, page by page."""
    found: list[dict[str, Any]] = []
    while True:
        page = _ok(http.get("/events", params={"after": after, "limit": 10_000}))
        found += page
        if len(page) < 10_000:
            return found
        after = int(page[-1]["position"])


def _head(http: httpx.Client) -> int:
    events = _events_after(http, 0)
    return int(events[-1]["position"]) if events else 0


def _finish(procs: Sequence[multiprocessing.process.BaseProcess]) -> None:
    """Join the client processes this module started; terminate one that hangs on."""
    for proc in procs:
        proc.join(10)
        if proc.is_alive():
            proc.terminate()
            proc.join(10)


def _collect(
    messages: Any, procs: Sequence[multiprocessing.process.BaseProcess], kind: str, timeout: float
) -> list[Any]:
    """One ``(kind, payload)`` message from each process; an ``error`` message raises."""
    got: list[Any] = []
    deadline = time.monotonic() + timeout
    while len(got) < len(procs):
        try:
            what, payload = messages.get(timeout=0.5)
        except queue.Empty:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{len(got)} of {len(procs)} client processes: {kind}") from None
            if not any(p.is_alive() for p in procs) and messages.empty():
                raise RuntimeError("a client process died (see its traceback above)") from None
            continue
        if what == "error":
            raise RuntimeError(f"client process: {payload}")
        if what != kind:
            raise RuntimeError(f"expected {kind!r} from a client process, got {what!r}")
        got.append(payload)
    return got


# ------------------------------------------------------------- stream latency


def _subscriber_process(
    url: str,
    headers: dict[str, str],
    after: int,
    count: int,
    messages: Any,
    target: Any,
    budget_s: float,
) -> None:
    """``count`` streams in one asyncio loop; reports ``ready`` once all are open, then
    ``arrivals`` (per stream: (position, perf_counter) per event) once ``target`` is reached."""
    try:
        arrivals = asyncio.run(_subscribe(url, headers, after, count, messages, target, budget_s))
        messages.put(("arrivals", arrivals))
    except BaseException as error:
        messages.put(("error", f"{type(error).__name__}: {error}"))


async def _subscribe(
    url: str,
    headers: dict[str, str],
    after: int,
    count: int,
    messages: Any,
    target: Any,
    budget_s: float,
) -> list[list[tuple[int, float]]]:
    import httpx

    arrivals: list[list[tuple[int, float]]] = [[] for _ in range(count)]
    opened = [False] * count

    async def one(http: httpx.AsyncClient, i: int) -> None:
        out = arrivals[i]
        position = -1
        async with http.stream("GET", "/events/stream", params={"after": after}) as response:
            if response.status_code != 200:
                raise RuntimeError(f"stream: {response.status_code} {(await response.aread())!r}")
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    out.append((position, time.perf_counter()))
                elif line.startswith("id: "):
                    position = int(line.removeprefix("id: "))
                    if not opened[i]:  # the opening id alone: where the stream starts
                        if position != after:
                            raise RuntimeError(f"stream opened at {position}, not {after}")
                        opened[i] = True
        raise RuntimeError("the server ended a stream")

    timeout = httpx.Timeout(REQUEST_TIMEOUT_S * 2, connect=REQUEST_TIMEOUT_S)
    limits = httpx.Limits(max_connections=count, max_keepalive_connections=count)
    async with httpx.AsyncClient(
        base_url=url, headers=headers, timeout=timeout, limits=limits
    ) as http:
        tasks = [asyncio.create_task(one(http, i)) for i in range(count)]
        deadline = time.monotonic() + budget_s
        announced = False
        try:
            while time.monotonic() < deadline:
                for task in tasks:
                    if task.done():
                        task.result()  # raises what ended it
                if not announced and all(opened):
                    messages.put(("ready", count))
                    announced = True
                goal = int(target.value)
                if goal and all(a and a[-1][0] >= goal for a in arrivals):
                    break
                await asyncio.sleep(MONITOR_S)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return arrivals


def _write_steadily(
    http: httpx.Client, count: int, interval_s: float
) -> list[tuple[str, float, float]]:
    """Create ``count`` versions, one every ``interval_s`` (at once when behind): for each,
    (version id, sent, acknowledged)."""
    out: list[tuple[str, float, float]] = []
    begin = time.perf_counter()
    for i in range(count):
        pause = begin + i * interval_s - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        sent = time.perf_counter()
        body = _ok(http.post("/model_versions", json={"model": STREAM_MODEL}))
        out.append((str(body["id"]), sent, time.perf_counter()))
    return out


def stream_latency(
    server: Server, http: httpx.Client, subscribers: int, sizes: ServiceSizes
) -> dict[str, Any]:
    """``subscribers`` streams open from the head of the log while one writer appends."""
    after = _head(http)
    ctx = _clients()
    counts = _split(subscribers, min(subscribers, sizes.subscriber_processes))
    messages = ctx.Queue()
    target = ctx.Value("q", 0)  # the last position to wait for; 0 while the writer writes
    budget = START_TIMEOUT_S + sizes.stream_writes * sizes.interval_ms / 1000 + CATCH_UP_S
    procs = [
        ctx.Process(
            target=_subscriber_process,
            args=(server.url, server.headers, after, n, messages, target, budget),
            daemon=True,
        )
        for n in counts
    ]
    try:
        for proc in procs:
            proc.start()
        _collect(messages, procs, "ready", START_TIMEOUT_S)
        time.sleep(SETTLE_S)
        writes = _write_steadily(http, sizes.stream_writes, sizes.interval_ms / 1000)
        events = _events_after(http, after)
        target.value = int(events[-1]["position"])
        arrivals = [a for got in _collect(messages, procs, "arrivals", budget) for a in got]
    finally:
        _finish(procs)

    # which write appended each event: a creation's two events name its version
    index = {version: i for i, (version, _, _) in enumerate(writes)}
    write_of: dict[int, int] = {}
    unattributed = 0
    for event in events:
        version = str(event["payload"].get("version_id", event["originator_id"]))
        if version in index:
            write_of[int(event["position"])] = index[version]
        else:
            unattributed += 1
    from_ack: Samples = []
    from_send: Samples = []
    missing = duplicates = 0
    for stream in arrivals:
        seen = Counter(position for position, _ in stream)
        missing += sum(1 for p in write_of if p not in seen)
        duplicates += sum(n - 1 for n in seen.values())
        for position, arrived in stream:
            if position in write_of:
                _, sent, acked = writes[write_of[position]]
                from_ack.append((arrived - acked) * 1000.0)
                from_send.append((arrived - sent) * 1000.0)
    span = writes[-1][1] - writes[0][1]
    return {
        "subscribers": subscribers,
        "client": f"{len(counts)} process(es) of {'/'.join(map(str, counts))} asyncio streams "
        "(httpx.AsyncClient); the writer: one keep-alive connection in the parent process",
        "layout": f"{len(counts)} x {'/'.join(map(str, counts))}",
        "writes": len(writes),
        "events": len(events),
        "interval_ms": sizes.interval_ms,
        "writes_per_s": (len(writes) - 1) / span if span > 0 else None,
        "pairs": len(from_ack),
        "missing": missing,
        "duplicates": duplicates,
        "unattributed": unattributed,
        "from_ack": stats(from_ack),
        "from_send": stats(from_send),
        "write": stats([(acked - sent) * 1000.0 for _, sent, acked in writes]),
    }


# ----------------------------------------------------------------------- load


def setup_load(http: httpx.Client) -> None:
    """Every load model with a production holder: no promotion is into an empty stage and no
    production read answers 404."""
    for model in LOAD_MODELS:
        _ok(http.post("/models", json={"name": model}))
        version = _ok(http.post("/model_versions", json={"model": model}))
        _ok(http.put(f"/model_versions/{version['id']}", json={"stage": "production"}))


class LoadClient:
    """One client of the mix: its own connection, its own fresh versions, its own draw.

    It promotes only versions it created and never promoted, so every promotion moves a
    fresh version in (and an unforced one is refused while production is held).
    """

    def __init__(self, http: httpx.AsyncClient, seed: int) -> None:
        self.http = http
        self.random = random.Random(seed)
        self.fresh: dict[str, list[str]] = {m: [] for m in LOAD_MODELS}
        self.ops: dict[str, Samples] = {kind: [] for kind, _ in MIX}
        self.statuses: Counter[str] = Counter()
        self.errors: list[str] = []
        self.actions: dict[str, Callable[[str], Awaitable[Any]]] = {
            "read_latest": self.read_latest,
            "read_production": self.read_production,
            "create": self.create,
            "forced": self.forced,
            "unforced": self.unforced,
            "conditional": self.conditional,
        }

    async def run(self, until: float) -> None:
        """Each operation once, in a shuffled order (so even a second's load times all six),
        then drawn by its weight until ``until``."""
        kinds = [kind for kind, _ in MIX]
        weights = [weight for _, weight in MIX]
        first = self.random.sample(kinds, len(kinds))
        while first or time.perf_counter() < until:
            kind = first.pop() if first else self.random.choices(kinds, weights)[0]
            await self.actions[kind](self.random.choice(LOAD_MODELS))

    async def _send(
        self, kind: str, method: str, path: str, body: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        """The answer's body if it is a success; None if refused as allowed, or an error."""
        import httpx

        start = time.perf_counter()
        try:
            response = await self.http.request(method, path, json=body)
        except httpx.HTTPError as error:
            self.errors.append(f"{kind}: {type(error).__name__}: {error}")
            return None
        self.ops[kind].append((time.perf_counter() - start) * 1000.0)
        self.statuses[f"{kind} {response.status_code}"] += 1
        if response.status_code not in ALLOWED[kind]:
            self.errors.append(f"{kind}: {response.status_code} {response.text[:200]}")
            return None
        return dict(response.json()) if response.status_code < 300 else None

    async def read_latest(self, model: str) -> None:
        await self._send("read_latest", "GET", f"/models/{model}/model_versions/latest")

    async def read_production(self, model: str) -> str | None:
        body = await self._send(
            "read_production", "GET", f"/models/{model}/model_versions/production"
        )
        return None if body is None else str(body["id"])

    async def create(self, model: str) -> None:
        body = await self._send("create", "POST", "/model_versions", {"model": model})
        if body is not None:
            self.fresh[model].append(str(body["id"]))

    async def _promote(self, kind: str, model: str, extra: dict[str, Any]) -> None:
        if not self.fresh[model]:
            await self.create(model)
        if not self.fresh[model]:
            return
        version = self.fresh[model].pop()
        body = {"stage": "production", **extra}
        if await self._send(kind, "PUT", f"/model_versions/{version}", body) is None:
            self.fresh[model].append(version)  # refused: still never promoted

    async def forced(self, model: str) -> None:
        await self._promote("forced", model, {"force": True})

    async def unforced(self, model: str) -> None:
        await self._promote("unforced", model, {})

    async def conditional(self, model: str) -> None:
        holder = await self.read_production(model)
        if holder is not None:
            await self._promote("conditional", model, {"force": True, "expected_holder": holder})


def _load_process(
    url: str,
    headers: dict[str, str],
    seeds: list[int],
    seconds: float,
    barrier: Any,
    messages: Any,
) -> None:
    """``len(seeds)`` clients in one asyncio loop, started with every other process."""
    try:
        messages.put(("load", asyncio.run(_load(url, headers, seeds, seconds, barrier))))
    except BaseException as error:
        barrier.abort()  # the others stop waiting for this one
        messages.put(("error", f"{type(error).__name__}: {error}"))


async def _load(
    url: str, headers: dict[str, str], seeds: list[int], seconds: float, barrier: Any
) -> dict[str, Any]:
    import httpx

    timeout = httpx.Timeout(REQUEST_TIMEOUT_S)
    clients = [
        LoadClient(httpx.AsyncClient(base_url=url, headers=headers, timeout=timeout), seed)
        for seed in seeds
    ]
    try:
        for client in clients:  # each opens its connection before the start
            _ok(await client.http.get(f"/models/{LOAD_MODELS[0]}/model_versions/production"))
        barrier.wait(START_TIMEOUT_S)  # nothing else runs on this loop yet
        start, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(c.run(start + seconds) for c in clients))
        end, cpu = time.perf_counter(), time.process_time() - cpu
    finally:
        for client in clients:
            await client.http.aclose()
    ops: dict[str, Samples] = {kind: [] for kind, _ in MIX}
    statuses: Counter[str] = Counter()
    errors: list[str] = []
    for client in clients:
        for kind, samples in client.ops.items():
            ops[kind] += samples
        statuses += client.statuses
        errors += client.errors
    return {
        "start": start,
        "end": end,
        "cpu_s": cpu,
        "ops": ops,
        "statuses": dict(statuses),
        "errors": errors,
    }


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) used so far by ``pid`` and its live children: a server
    and its workers. Linux only; 0.0 where /proc cannot tell."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            pids += [int(c) for c in (task / "children").read_text().split()]
    except OSError:
        return 0.0
    for each in pids:
        try:
            # the fields after the command (which may hold spaces) in its parentheses
            fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick  # utime, stime
    return total


def load(server: Server, sizes: ServiceSizes) -> dict[str, Any]:
    """The mix by ``sizes.clients`` clients for ``sizes.load_seconds``."""
    ctx = _clients()
    barrier = ctx.Barrier(sizes.load_processes)
    messages = ctx.Queue()
    seeds = list(range(sizes.clients))
    per = sizes.clients_per_process
    procs = [
        ctx.Process(
            target=_load_process,
            args=(
                server.url,
                server.headers,
                seeds[i * per : (i + 1) * per],
                sizes.load_seconds,
                barrier,
                messages,
            ),
            daemon=True,
        )
        for i in range(sizes.load_processes)
    ]
    server_cpu = _cpu_s(server.process.pid)
    try:
        for proc in procs:
            proc.start()
        runs = _collect(messages, procs, "load", START_TIMEOUT_S + sizes.load_seconds + 120)
    finally:
        _finish(procs)
    server_cpu = _cpu_s(server.process.pid) - server_cpu
    wall = max(r["end"] for r in runs) - min(r["start"] for r in runs)
    ops: dict[str, Samples] = {kind: [] for kind, _ in MIX}
    statuses: Counter[str] = Counter()
    errors: list[str] = []
    for run in runs:
        for kind, samples in run["ops"].items():
            ops[kind] += samples
        statuses.update(run["statuses"])
        errors += run["errors"]
    requests = sum(len(s) for s in ops.values())
    return {
        "clients": sizes.clients,
        "client": f"{sizes.load_processes} processes x {per} asyncio clients "
        "(httpx.AsyncClient), each its own keep-alive connection",
        "seconds": sizes.load_seconds,
        "wall_s": wall,
        "requests": requests,
        "req_per_s": requests / wall,
        # CPU seconds per second of the load: the clients' (from their start to their end) and
        # the server's (all its processes, from the clients' spawn to their exit)
        "client_cores": sum(r["cpu_s"] for r in runs) / wall,
        "server_cores": server_cpu / wall,
        "errors": len(errors),
        "error_samples": errors[:5],
        "statuses": dict(sorted(statuses.items())),
        "ops": {kind: stats(samples) for kind, samples in ops.items()},
    }


# ---------------------------------------------------------------------- runs


def run_config(config: Config, sizes: ServiceSizes) -> dict[str, Any]:
    """Fresh store, fresh server: the stream figures, then the load; all stopped after."""
    import httpx

    result: dict[str, Any] = asdict(config) | {"name": config.name}
    with fresh_store(config.store) as store_env, modelplane_server(config, store_env) as server:
        result["pid"] = server.process.pid
        result["start_s"] = server.start_s
        log(f"{config.name}: up in {server.start_s:.1f} s (pid {server.process.pid})")
        with httpx.Client(
            base_url=server.url, headers=server.headers, timeout=REQUEST_TIMEOUT_S
        ) as http:
            _ok(http.post("/models", json={"name": STREAM_MODEL}))
            _ok(http.post("/model_versions", json={"model": STREAM_MODEL}))
            result["stream"] = {}
            for count in sizes.subscribers:
                log(f"{config.name}: stream latency, {count} subscriber(s)")
                result["stream"][str(count)] = stream_latency(server, http, count, sizes)
            log(f"{config.name}: webhook latency, {sizes.webhook_events} deliveries")
            result["webhooks"] = measure_webhooks(
                http,
                sizes.webhook_events,
                model=WEBHOOK_MODEL,
                warmup=sizes.webhook_warmup,
                max_pause=sizes.webhook_pause_s,
            )  # the webhook is removed after: the load below delivers nothing
            setup_load(http)
        log(f"{config.name}: load, {sizes.clients} clients for {sizes.load_seconds:g} s")
        result["load"] = load(server, sizes)
    return result


def run_all(chosen: list[Config], sizes: ServiceSizes, skipped: dict[str, str]) -> dict[str, Any]:
    """Every configuration in turn; one that fails is recorded as such, the rest still run."""
    results: dict[str, Any] = {}
    for config in chosen:
        try:
            results[config.name] = run_config(config, sizes)
        except Exception as exc:  # recorded in the result; the other configurations still run
            log(f"{config.name}: FAILED {type(exc).__name__}: {exc}")
            error = f"{type(exc).__name__}: {exc}"
            results[config.name] = asdict(config) | {"name": config.name, "error": error}
    return {"system": "service", "sizes": asdict(sizes), "configs": results, "skipped": skipped}


# --------------------------------------------------------------------- tables


def _ms(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.1f}" if abs(value) < 100 else f"{value:.0f}"


def _pair(figures: Mapping[str, Any]) -> str:
    if not figures.get("n"):
        return "-"
    return f"{_ms(figures['p50_ms'])} / {_ms(figures['p95_ms'])}"


def tables(doc: Mapping[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """(title, header, rows) of the stream table, the webhook table and the load table."""
    sizes = doc["sizes"]
    configs_: Mapping[str, Any] = doc["configs"]
    stream_header = [
        "server",
        "subscribers",
        "from ack p50/p95",
        "from send p50/p95",
        "write p50/p95",
        "writes/s",
        "pairs",
        "missing/dup",
        "processes x streams",
    ]
    stream_rows: list[list[str]] = []
    for name, res in configs_.items():
        if "error" in res:
            stream_rows.append([name, "FAILED", res["error"][:60], *[""] * 6])
            continue
        for count, s in res["stream"].items():
            pace = "-" if s["writes_per_s"] is None else f"{s['writes_per_s']:.0f}"
            stream_rows.append(
                [
                    name,
                    count,
                    _pair(s["from_ack"]),
                    _pair(s["from_send"]),
                    _pair(s["write"]),
                    pace,
                    f"{s['pairs']:,}",
                    f"{s['missing']}/{s['duplicates']}",
                    s["layout"],
                ]
            )
    stream_title = (
        f"Event stream latency, ms (one writer creates a version every "
        f"{sizes['interval_ms']:g} ms, {sizes['stream_writes']} times; an event's arrival at "
        "each subscriber minus the writer's acknowledgement, and minus its send; subscribers: "
        "asyncio streams of httpx.AsyncClient in processes of their own)"
    )
    webhook_header = ["server", "deliveries", "from ack p50/p95", "from send p50/p95", "max"]
    webhook_rows: list[list[str]] = []
    for name, res in configs_.items():
        hooks = res.get("webhooks")
        if hooks is None:  # failed before (its error is in the stream table), or an old run
            continue
        ack, send = hooks["after_answer"], hooks["after_request"]
        webhook_rows.append(
            [
                name,
                str(hooks["events"]),
                f"{_ms(ack['p50_ms'])} / {_ms(ack['p95_ms'])}",
                f"{_ms(send['p50_ms'])} / {_ms(send['p95_ms'])}",
                _ms(ack["max_ms"]),
            ]
        )
    webhook_title = (
        f"Webhook delivery latency, ms (one version created at a time, after a random pause of "
        f"up to {sizes.get('webhook_pause_s', 0) * 1000:g} ms; its delivery's arrival at a "
        "receiver in the bench process minus the append's answer, and minus its send)"
    )
    kinds = [kind for kind, _ in MIX]
    load_header = [
        "server",
        "req/s",
        "requests",
        *[k.replace("_", " ") for k in kinds],
        "errors",
        "cores client/server",
    ]
    load_rows: list[list[str]] = []
    client = ""
    for name, res in configs_.items():
        if "error" in res:
            load_rows.append([name, "FAILED", res["error"][:60], *[""] * (len(kinds) + 2)])
            continue
        lo = res["load"]
        client = lo["client"]
        load_rows.append(
            [
                name,
                f"{lo['req_per_s']:,.0f}",
                f"{lo['requests']:,}",
                *[_pair(lo["ops"][k]) for k in kinds],
                str(lo["errors"]),
                f"{lo['client_cores']:.2f} / {lo['server_cores']:.2f}",
            ]
        )
    load_title = (
        f"Mixed load, p50/p95 ms per operation "
        f"({sizes['load_processes'] * sizes['clients_per_process']} clients for "
        f"{sizes['load_seconds']:g} s: {client})"
    )
    return [
        (stream_title, stream_header, stream_rows),
        (webhook_title, webhook_header, webhook_rows),
        (load_title, load_header, load_rows),
    ]


# ----------------------------------------------------------------------- main


def main() -> int:
    """Parse args, run the chosen configurations, print the JSON result on stdout."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="fewer writes, a shorter load")
    size.add_argument("--smoke", action="store_true", help="a few writes, a second of load")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument(
        "--only", help="comma-separated configuration names, e.g. modelplane-sqlite-w4"
    )
    args = parser.parse_args()
    sizes = (
        ServiceSizes.smoke()
        if args.smoke
        else ServiceSizes.quick()
        if args.quick
        else ServiceSizes()
    )
    signal.signal(signal.SIGTERM, _raise_interrupt)
    out = capture_stdout()
    skipped = {"postgres": "--no-postgres"} if args.no_postgres else {}
    chosen = configs(not args.no_postgres)
    if args.only:
        names = set(args.only.split(","))
        chosen = [c for c in chosen if c.name in names]
    emit(out, run_all(chosen, sizes, skipped))
    return 0


if __name__ == "__main__":
    sys.exit(main())
