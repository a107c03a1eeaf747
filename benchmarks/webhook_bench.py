"""Webhook delivery latency: from an append's answer to the receiver's arrival.

One ``modelplane server start`` (default settings: the deliverer is woken by the process's
head watcher, ``modelplane/head_watch.py``) on a fresh store, one receiver on loopback in this
process, one webhook for one model's ``ModelVersion.Created``. Each sample creates a model
version over HTTP (one matching event) and waits for its delivery before the next, so a
sample is the deliverer's own delay (wake-up, log read, signing, POST), not a queue behind
earlier events; a random pause (up to 0.5 s) before each append spreads the appends over any
poll cycle left (another worker's writes reach a SQLite server's deliverer through a short
poll of the head). Both ends are timed with this process's ``perf_counter``: ``after_answer``
starts when the append's 201 arrives (the event is committed), ``after_request`` when the
append was sent.

    .venv/bin/python benchmarks/webhook_bench.py                  # SQLite and PostgreSQL
    .venv/bin/python benchmarks/webhook_bench.py --store sqlite --events 200

``run(store_url)`` starts a server of its own; ``measure(http, ...)`` measures through a server
already running (``service_bench.py`` does, per configuration). Both print progress on stderr
and return the figures as a dict.
"""

from __future__ import annotations

import argparse
import json
import queue
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from bench_modelplane import fresh_store  # noqa: E402
from http_bench import _clean_env, free_port, running  # noqa: E402
from peers._common import log  # noqa: E402

if TYPE_CHECKING:
    import httpx

#: the appends before the timed ones (connections, caches, the deliverer's first claim)
WARMUP = 10
#: a random pause before each append, so appends fall anywhere in the deliverer's poll
#: cycle: back to back, each append would follow a delivery at the same phase and every
#: sample would wait nearly a whole poll
MAX_PAUSE_SECONDS = 0.5


class _Receiver:
    """Puts ``(position, perf_counter at arrival)`` on a queue for every POST, answers 204."""

    def __init__(self) -> None:
        self.arrivals: queue.Queue[tuple[int, float]] = queue.Queue()
        arrivals = self.arrivals

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                at = time.perf_counter()
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()
                arrivals.put((int(json.loads(body)["position"]), at))

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait_for(self, position: int, timeout: float = 60.0) -> float:
        deadline = time.monotonic() + timeout
        while True:
            got, at = self.arrivals.get(timeout=max(0.0, deadline - time.monotonic()))
            if got == position:
                return at

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _summary(samples: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in samples]
    return {
        "p50_ms": round(_percentile(ms, 0.50), 2),
        "p95_ms": round(_percentile(ms, 0.95), 2),
        "max_ms": round(max(ms), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
    }


def run(store_url: str | None = None, events: int = 200, workers: int = 1) -> dict[str, Any]:
    """Delivery latency over ``events`` appends on a server over ``store_url`` (a fresh store
    with no tokens yet; None: a fresh SQLite file), with ``workers`` server processes."""
    import httpx

    home = Path(tempfile.mkdtemp(prefix="bench-webhooks-"))
    env = _clean_env(home)
    if store_url:
        env["MODELPLANE_STORE_URL"] = store_url
    port = free_port()
    argv = [sys.executable, "-m", "modelplane", "server", "start", "--port", str(port)]
    argv += ["--workers", str(workers)]
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        with running(argv, env, home, f"{base}/health", home / "server.log"):
            token = (home / "server-admin-token").read_text(encoding="utf-8").strip()
            headers = {"Authorization": f"Bearer {token}"}
            with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
                figures = measure(http, events)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    store = "postgres" if store_url and store_url.startswith("postgresql") else "sqlite"
    return {"store": store, "workers": workers, **figures}


def measure(
    http: httpx.Client,
    events: int,
    model: str = "latency",
    warmup: int = WARMUP,
    max_pause: float = MAX_PAUSE_SECONDS,
) -> dict[str, Any]:
    """Delivery latency over ``events`` appends (after ``warmup`` untimed ones) through the
    server ``http`` talks to (as an admin): a webhook for ``model``'s ``ModelVersion.Created``
    (the model is registered here) to a receiver in this process, removed at the end, so
    that later measurements on the same server deliver nothing."""
    receiver = _Receiver()
    try:
        http.post("/models", json={"name": model}).raise_for_status()
        hook = {"url": receiver.url, "events": ["ModelVersion.Created"], "model": model}
        registered = http.post("/webhooks", json=hook)
        registered.raise_for_status()
        after_answer: list[float] = []
        after_request: list[float] = []
        pauses = random.Random(20261207)
        for n in range(warmup + events):
            time.sleep(pauses.uniform(0, max_pause))
            sent = time.perf_counter()
            created = http.post("/model_versions", json={"model": model})
            answered = time.perf_counter()
            created.raise_for_status()
            position = _created_position(http, model, created.json()["id"])
            arrived = receiver.wait_for(position)
            if n >= warmup:
                after_answer.append(max(0.0, arrived - answered))
                after_request.append(arrived - sent)
            if n and n % 50 == 0:
                log(f"webhooks: {n}/{warmup + events} deliveries")
        http.delete(f"/webhooks/{registered.json()['id']}").raise_for_status()
    finally:
        receiver.close()
    return {
        "events": events,
        "max_pause_seconds": max_pause,
        "after_answer": _summary(after_answer),
        "after_request": _summary(after_request),
    }


def _created_position(http: httpx.Client, model: str, version_id: str) -> int:
    """The log position of the version's ``ModelVersion.Created`` (its own first event)."""
    found = http.get("/events", params={"model": model, "after": 0, "limit": 10_000})
    found.raise_for_status()
    for event in reversed(found.json()):
        if event["type"] == "ModelVersion.Created" and event["originator_id"] == version_id:
            return int(event["position"])
    raise RuntimeError(f"no ModelVersion.Created for {version_id}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    stores = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    results = []
    for store in stores:
        with fresh_store(store) as store_env:
            url = store_env.get("MODELPLANE_STORE_URL")
            results.append(run(url, args.events, args.workers))
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
