"""Code that runs in other OS processes for the concurrency and crash tests.

Importable by ``multiprocessing`` children (see :func:`context`), and runnable as a script:
``python -m tests.workers burst MODEL`` writes forever, printing one line per acknowledged
write, until it is killed.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import sys
import traceback
from multiprocessing.context import ForkServerContext
from typing import Any

#: The variables that say which store a worker uses and who it is.
STORE_KEYS = ("MODELPLANE_HOME", "MODELPLANE_STORE_URL", "MODELPLANE_ACTOR")
#: What a worker imports, including what the SDK imports lazily on a store's first use.
PRELOAD = [
    "tests.workers",
    "modelplane.cli",
    "modelplane.client",
    "modelplane.exceptions",
    "modelplane.projections.projected_registry",
    "modelplane.projections.queries",
    "psycopg",
]


def context() -> ForkServerContext:
    """Processes forked from a server that imported :data:`PRELOAD` once and nothing else.

    Each worker starts as a process that never opened a store (the server did not), without
    the 0.7 s of imports a spawned interpreter pays (8 workers: several seconds of a 2-core
    machine before the first barrier, every race). The server keeps the environment it was
    started in, so workers set the store's variables themselves (:func:`use_store_env`).
    """
    ctx = multiprocessing.get_context("forkserver")
    assert isinstance(ctx, ForkServerContext)
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def race(
    ctx: ForkServerContext, target: Any, args_for: list[tuple[Any, ...]], timeout: float
) -> list[tuple[Any, ...]]:
    """Start one ``target`` process per argument tuple (each also gets the shared barrier and
    the result queue), collect one ``(key, outcome, detail)`` result from each; fail on a
    worker that crashed, reported nothing or exited non-zero."""
    import pytest  # only the test process runs this: the workers' preload stays small

    barrier = ctx.Barrier(len(args_for))
    results = ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args, barrier, results)) for args in args_for]
    for proc in procs:
        proc.start()
    got: list[tuple[Any, ...]] = []
    try:
        for _ in procs:
            got.append(results.get(timeout=timeout))
    except queue.Empty:
        pytest.fail(f"only {len(got)} of {len(procs)} workers reported: {got}")
    finally:
        for proc in procs:
            proc.join(timeout=timeout)
            if proc.is_alive():
                proc.kill()
                proc.join()
    crashes = [r for r in got if r[1] == "crash"]
    assert not crashes, "\n".join(str(c[2]) for c in crashes)
    assert all(proc.exitcode == 0 for proc in procs), [proc.exitcode for proc in procs]
    return got


def store_env() -> dict[str, str]:
    """This process's store variables, for a worker to use (:func:`use_store_env`)."""
    return {k: os.environ[k] for k in STORE_KEYS if k in os.environ}


def use_store_env(env: dict[str, str]) -> None:
    """Point this process at the store ``env`` names: its variables set, the others removed
    (a server started during an earlier test still has that test's)."""
    for key in STORE_KEYS:
        if key in env:
            os.environ[key] = env[key]
        else:
            os.environ.pop(key, None)


def _setup(env: dict[str, str]) -> Any:
    use_store_env(env)
    from modelplane.client import Client
    from modelplane.store_handle import Store

    client = Client()
    _ = Store.current().registry  # open the write side before the race starts
    return client


def promote(
    env: dict[str, str], model: str, version: str, force: bool, barrier: Any, results: Any
) -> None:
    """Promote one version to production once every worker is ready; report the outcome."""
    try:
        from modelplane.exceptions import StageOccupiedError

        client = _setup(env)
        client.get_model_version(model, version)  # warm the read path too
        barrier.wait(timeout=300)
        try:
            updated = client.update_model_version(
                model, version, stage="production", force=force, reason=f"by {version}"
            )
        except StageOccupiedError as error:
            results.put((version, "occupied", str(error)))
        else:
            results.put((version, "ok", updated.stage.value))
    except BaseException:
        results.put((version, "crash", traceback.format_exc()))


def create_versions(
    env: dict[str, str], model: str, count: int, barrier: Any, results: Any
) -> None:
    """Create ``count`` versions of a model; report the numbers the registry returned."""
    numbers: list[int] = []
    try:
        client = _setup(env)
        client.get_model(model)
        barrier.wait(timeout=300)
        for _ in range(count):
            numbers.append(client.create_model_version(model).number)
        results.put((os.getpid(), "ok", numbers))
    except BaseException:
        results.put((os.getpid(), "crash", (numbers, traceback.format_exc())))


def register(env: dict[str, str], name: str, barrier: Any, results: Any) -> None:
    """Register a model named ``name``; report whether this process got it."""
    try:
        from modelplane.exceptions import EntityExistsError

        client = _setup(env)
        barrier.wait(timeout=300)
        try:
            created = client.create_model(name, description=str(os.getpid()))
        except EntityExistsError as error:
            results.put((os.getpid(), "exists", str(error)))
        else:
            results.put((os.getpid(), "ok", str(created.id)))
    except BaseException:
        results.put((os.getpid(), "crash", traceback.format_exc()))


def first_use(env: dict[str, str], role: str, name: str, barrier: Any, results: Any) -> None:
    """Touch a store nobody has opened yet, all workers at once: ``role`` "write" registers
    the model ``name`` through the SDK, "read" lists models through the CLI's code path
    (``python -m modelplane model list`` in this process); report the outcome."""
    try:
        use_store_env(env)
        from modelplane.cli import app
        from modelplane.client import Client

        barrier.wait(timeout=300)  # imports done: the race is only the store's first use
        if role == "write":
            created = Client().create_model(name)
            results.put((os.getpid(), "ok", (role, created.name)))
        else:
            try:
                app(["model", "list"], prog_name="modelplane", standalone_mode=False)
            except SystemExit as stop:
                if stop.code not in (0, None):
                    raise
            results.put((os.getpid(), "ok", (role, len(Client().list_models(size=100)))))
    except BaseException:
        barrier.abort()  # the others stop waiting for this one
        results.put((os.getpid(), "crash", traceback.format_exc()))


def write_or_replay(
    env: dict[str, str],
    model: str,
    role: str,
    rounds: int,
    writers_done: Any,
    writers: int,
    barrier: Any,
    results: Any,
) -> None:
    """``role`` "writer": create ``rounds`` versions; "replayer": rebuild the live tables
    again and again until every writer is done (at least ``rounds`` times)."""
    done: list[int] = []
    try:
        client = _setup(env)
        client.get_model(model)
        barrier.wait(timeout=300)
        if role == "writer":
            for _ in range(rounds):
                done.append(client.create_model_version(model).number)
            with writers_done.get_lock():
                writers_done.value += 1
        else:
            while len(done) < rounds or writers_done.value < writers:
                done.append(client.rebuild_projections().position)
        results.put((os.getpid(), "ok", (role, done)))
    except BaseException:
        if role == "writer":
            with writers_done.get_lock():
                writers_done.value += 1
        results.put((os.getpid(), "crash", (role, done, traceback.format_exc())))


def burst(model: str) -> None:
    """Write forever: version, forced promotion, metadata; one line per acknowledged write.

    Lines: ``version NUMBER POSITION_UNKNOWN``, ``promote NUMBER POSITION``,
    ``meta NUMBER POSITION`` (positions as the registry returned them).
    """
    from modelplane.client import Client
    from modelplane.exceptions import NotFoundError
    from modelplane.store_handle import Store

    client = Client()
    registry = Store.current().registry
    try:
        client.get_model(model)
    except NotFoundError:
        client.create_model(model)
    print("ready", flush=True)
    i = 0
    while True:
        i += 1
        version = client.create_model_version(model)
        print(f"version {version.number} {version.id}", flush=True)
        stage = "production" if i % 2 else "staging"
        position = registry.change_stage(
            version.id, stage, force=True, reason=f"burst {i}", actor="burst"
        )
        print(f"promote {version.number} {position} {stage}", flush=True)
        position = registry.log_metadata(version.id, {"step": i, "acc": i / 100}, actor="burst")
        print(f"meta {version.number} {position}", flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "burst":
        burst(sys.argv[2])
    else:
        raise SystemExit(f"unknown worker {sys.argv[1]!r}")
