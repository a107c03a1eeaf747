"""modelplane under the same workload as the peers, plus replay and scaling.

Runs in-process with the project venv against a fresh store per run: a temp
``MODELPLANE_HOME`` (SQLite) or a fresh PostgreSQL database that is dropped
afterwards. Replay and scaling each run in their own subprocess on their own
fresh store, so their peak RSS and timings are not mixed with the workload's.
Prints one JSON object to stdout, in the same format as the peer scripts.

Internal phases (``--phase seed|replay|scaling``) are how the parent runs
those subprocesses; they expect the store env vars to be set already.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

from peers._common import (
    Ops,
    Samples,
    Sizes,
    capture_stdout,
    cycle,
    emit,
    import_samples,
    log,
    optional_op,
    parse_args,
    peak_rss_mb,
    run_json_child,
    sizes_for,
    statement_samples,
    time_subprocess,
    timed,
)

HERE = Path(__file__).resolve().parent
PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=test"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/{db}"
STORE_VARS = ("MODELPLANE_HOME", "MODELPLANE_STORE_URL")


# --------------------------------------------------------------------- stores


@contextmanager
def fresh_store(store: str) -> Iterator[dict[str, str]]:
    """Env vars for a brand-new, empty store; the store is removed on exit."""
    home = Path(tempfile.mkdtemp(prefix=f"bench-mp-{store}-"))
    env = {"MODELPLANE_HOME": str(home)}
    db: str | None = None
    try:
        if store == "postgres":
            db = f"mp_bench_{uuid.uuid4().hex[:12]}"
            _pg_admin(f'CREATE DATABASE "{db}"')
            env["MODELPLANE_STORE_URL"] = PG_URL.format(db=db)
        yield env
    finally:
        if db is not None:
            _pg_admin(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        shutil.rmtree(home, ignore_errors=True)


def _pg_admin(sql: str) -> None:
    """Run one statement against the admin database (CREATE/DROP DATABASE)."""
    import psycopg

    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(sql.encode())  # our own generated identifiers, not user input


def use_store(env: dict[str, str]) -> None:
    """Point this process at ``env``'s store (before modelplane is imported)."""
    for var in STORE_VARS:
        os.environ.pop(var, None)
    os.environ.update(env)


def count_events() -> int:
    """Stored events in the current store (rows of the event tables, snapshots excluded).

    Event tables are found by their eventsourcing columns rather than by
    name, so this keeps working whatever the application names them.
    """
    url = os.environ.get("MODELPLANE_STORE_URL")
    if url:
        from sqlalchemy import create_engine, inspect, text

        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                names = [
                    t
                    for t in inspect(conn).get_table_names()
                    if _is_event_table({c["name"] for c in inspect(conn).get_columns(t)}, t)
                ]
                return sum(
                    int(conn.execute(text(f'SELECT COUNT(*) FROM "{t}"')).scalar_one())
                    for t in names
                )
        finally:
            engine.dispose()
    total = 0
    for path in Path(os.environ["MODELPLANE_HOME"]).rglob("*"):
        if not path.is_file() or path.read_bytes()[:16] != b"SQLite format 3\x00":
            continue
        with sqlite3.connect(path) as conn:
            tables = [
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            for t in tables:
                cols = {r[1] for r in conn.execute(f'PRAGMA table_info("{t}")')}
                if _is_event_table(cols, t):
                    total += int(conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0])
    return total


def _is_event_table(columns: set[str], name: str) -> bool:
    wanted = {"originator_id", "originator_version", "topic", "state"}
    return wanted <= columns and "snapshot" not in name.lower()


# ------------------------------------------------------------------- workload


def workload(sizes: Sizes, env: dict[str, str], errors: dict[str, str]) -> Ops:
    """The shared workload, op for op as in peers/bench_zenml.py.

    Failures of the subprocess ops land in ``errors`` instead of aborting.
    """
    from modelplane import log_metadata
    from modelplane.client import Client
    from modelplane.enums import ModelStages

    client = Client()
    warm = getattr(client, "list_models", None)
    if callable(warm):
        warm(size=1)  # warm-up: schema creation is not an op
    ops: Ops = {}

    log("register_model")
    s: Samples = ops.setdefault("register_model", [])
    for i in range(sizes.models):
        timed(
            s,
            partial(
                client.create_model,
                name=f"m{i}",
                license="MIT",
                description="bench model",
                tags=["a", "b"],
            ),
        )

    log("create_version")
    client.create_model(name="big", license="MIT", description="bench model", tags=["a", "b"])
    s = ops.setdefault("create_version", [])
    ids: dict[int, Any] = {}
    for _ in range(sizes.versions):
        mv = timed(s, partial(client.create_model_version, "big"))
        ids[int(mv.number)] = mv.id

    log("promote_force")
    s = ops.setdefault("promote_force", [])
    for n in range(1, sizes.promote + 1):
        timed(
            s,
            partial(
                client.update_model_version,
                "big",
                version_name_or_id=str(n),
                stage=ModelStages.PRODUCTION,
                force=True,
            ),
        )

    log("get_by_stage")
    s = ops.setdefault("get_by_stage", [])
    for _ in range(sizes.get_by_stage):
        mv = timed(s, partial(client.get_model_version, "big", ModelStages.PRODUCTION))
    assert int(mv.number) == sizes.promote, mv.number

    log("list_versions_page")
    s = ops.setdefault("list_versions_page", [])
    for _ in range(sizes.list_page):
        page = timed(s, partial(client.list_model_versions, "big", size=sizes.page_size))
    assert _count(page) == min(sizes.page_size, sizes.versions), _count(page)

    log("list_versions_all")
    s = ops.setdefault("list_versions_all", [])
    for _ in range(sizes.list_all):
        page = timed(s, partial(client.list_model_versions, "big", size=10_000))
    assert _count(page) == sizes.versions, _count(page)

    log("log_metadata")
    s = ops.setdefault("log_metadata", [])
    metadata = {"evaluation_metrics": {"accuracy": 0.9, "f1": 0.8}}
    for n in cycle(range(1, sizes.versions + 1), sizes.log_metadata):
        timed(
            s,
            partial(log_metadata, metadata=metadata, model_name="big", model_version=str(n)),
        )

    log("delete_version")
    s = ops.setdefault("delete_version", [])
    for n in range(sizes.versions, sizes.versions - sizes.delete, -1):
        timed(s, partial(client.delete_model_version, ids[n]))

    child_env = {**os.environ, **env}
    log("import")
    optional_op(
        ops,
        errors,
        "import",
        partial(import_samples, sys.executable, "modelplane", sizes.import_runs, child_env),
    )

    log("import_client")
    optional_op(
        ops,
        errors,
        "import_client",
        partial(
            statement_samples,
            sys.executable,
            "from modelplane.client import Client",
            sizes.import_runs,
            child_env,
        ),
    )

    log("cli_model_list")
    cli = str(Path(sys.executable).parent / "modelplane")
    # "m1" (m1, m10.., m1xx) is on the first page in either sort order; it
    # proves the CLI read the populated store rather than an empty one.
    optional_op(
        ops,
        errors,
        "cli_model_list",
        partial(time_subprocess, [cli, "model", "list"], sizes.cli_runs, child_env, expect="m1"),
    )
    return ops


def _count(page: Any) -> int:
    """Rows in a page object, whatever its shape (``.items`` or a sequence)."""
    items = getattr(page, "items", page)
    return len(items() if callable(items) else items)


# --------------------------------------------------------------------- replay


def seed_events(n: int) -> str:
    """Append at least ``n`` events to the current (empty) store; return the method used.

    In bulk through the domain (``scale_seed.BulkSeeder``: a thousand events per save, one
    transaction each, projections folded as they go), so a million events take minutes.
    The mix is what users produce: models of 20 versions, metadata logged on each, every
    4th promoted to production (about 81 events a model). Only the rebuild is timed, so the
    seeding method does not affect the replay figure.
    """
    from scale_seed import STAGE_PRODUCTION, BulkSeeder

    from modelplane import config
    from modelplane.client import Client
    from modelplane.store_handle import Store

    Client().list_models(size=1)  # creates the store
    seeder = BulkSeeder(Store.current().registry, config.actor())
    metadata = {"evaluation_metrics": {"accuracy": 0.9, "f1": 0.8}}
    i = 0
    while (have := count_events()) < n:
        log(f"seeded {have:,} events")
        for _ in range(max(1, (n - have) // 81)):
            model = seeder.model(f"replay{i}", tags=["a"])
            i += 1
            previous = None
            for k in range(1, 21):
                version = seeder.version(model)
                seeder.metadata(version, metadata)
                if k % 4 == 0:
                    seeder.promote(model, version, previous, STAGE_PRODUCTION)
                    previous = version
        seeder.flush()
    return "bulk through the domain"


def phase_seed(sizes: Sizes, events: int) -> dict[str, Any]:
    """Subprocess body: fill the store with ``events`` events."""
    start = time.perf_counter()
    method = seed_events(events)
    return {
        "seed_s": time.perf_counter() - start,
        "seed_method": method,
        "events": count_events(),
    }


def phase_replay() -> dict[str, Any]:
    """Subprocess body: rebuild every projection from the log, timed.

    The default rebuild folds the whole log into fresh live read tables in
    one transaction; its own count and timing are kept next to ours.
    """
    import modelplane.replay  # noqa: F401  (imports are not the replay)
    from modelplane.client import Client
    from modelplane.store_handle import Store

    client = Client()
    _ = Store.current().registry  # opening the write model is not the replay either
    start = time.perf_counter()
    returned = client.rebuild_projections()
    rebuild_s = time.perf_counter() - start
    return {
        "rebuild_s": rebuild_s,
        "reported_events": getattr(returned, "events", None),
        "reported_seconds": getattr(returned, "seconds", None),
        "reported_target": str(getattr(returned, "target", "")),
    }


def run_replay(store: str, sizes: Sizes) -> dict[str, Any]:
    """Seed a fresh store in one subprocess, rebuild it in a second, fresh one.

    The rebuild runs in its own process so its peak RSS is the replay's
    alone (wait4 on that child), not the seeding's.
    """
    with fresh_store(store) as env:
        child_env = {**os.environ, **env}
        me = [sys.executable, str(Path(__file__).resolve())]
        tmp = HERE / "results" / f"mp-{store}-phase.tmp"
        log(f"replay: seeding {sizes.replay_events:,} events")
        seed = run_json_child(
            [*me, "--phase", "seed", "--events", str(sizes.replay_events)],
            tmp,
            env=child_env,
        )
        if seed.result is None:
            return {"error": f"seed phase exit code {seed.returncode}"}
        log(f"replay: rebuilding projections from {seed.result['events']:,} events")
        replay = run_json_child([*me, "--phase", "replay"], tmp, env=child_env)
        if replay.result is None:
            return {"error": f"replay phase exit code {replay.returncode}"}
    events = int(seed.result["events"])
    rebuild_s = float(replay.result["rebuild_s"])
    return {
        "events": events,
        "seed_s": seed.result["seed_s"],
        "seed_method": seed.result["seed_method"],
        "rebuild_s": rebuild_s,
        "events_per_s": events / rebuild_s if rebuild_s > 0 else None,
        "replay_peak_rss_mb": replay.peak_rss_mb,
        "replay_process_wall_s": replay.wall_s,
        "reported_events": replay.result["reported_events"],
        "reported_seconds": replay.result["reported_seconds"],
        "reported_target": replay.result["reported_target"],
    }


# -------------------------------------------------------------------- scaling


def phase_scaling(sizes: Sizes) -> dict[str, Any]:
    """Subprocess body: grow one model and sample its ops at each size.

    At each point P the model is grown (untimed, in bulk through the domain:
    ``scale_seed``) to P versions, then ``scaling_samples`` creates and as many
    get-by-stage reads are timed; flat medians across points show cost does not
    grow with history. ``scale.py`` (``run.py --scale``) draws many more curves.
    """
    from scale_seed import BulkSeeder

    from modelplane import config
    from modelplane.client import Client
    from modelplane.enums import ModelStages
    from modelplane.store_handle import Store

    client = Client()
    client.create_model(name="scale", license="MIT", description="scaling", tags=[])
    seeder = BulkSeeder(Store.current().registry, config.actor())
    model_id = client.get_model("scale").id
    have = 0
    points: list[dict[str, Any]] = []
    for target in sizes.scaling_points:
        model = seeder.get(model_id)
        while have < target:
            seeder.version(model)
            have += 1
        seeder.flush()
        client.update_model_version(
            "scale",
            version_name_or_id=str(have),
            stage=ModelStages.PRODUCTION,
            force=True,
        )
        creates: Samples = []
        for _ in range(sizes.scaling_samples):
            timed(creates, partial(client.create_model_version, "scale"))
        have += sizes.scaling_samples
        gets: Samples = []
        for _ in range(sizes.scaling_samples):
            timed(gets, partial(client.get_model_version, "scale", ModelStages.PRODUCTION))
        points.append(
            {
                "versions": target,
                "create_version_ms": creates,
                "get_by_stage_ms": gets,
                "create_version_median_ms": _median(creates),
                "get_by_stage_median_ms": _median(gets),
            }
        )
        log(f"scaling: {target:,} versions done")
    return {"points": points}


def _median(samples: Samples) -> float:
    data = sorted(samples)
    mid = len(data) // 2
    return data[mid] if len(data) % 2 else (data[mid - 1] + data[mid]) / 2


def run_scaling(store: str, sizes: Sizes) -> dict[str, Any]:
    """Run :func:`phase_scaling` in a subprocess on a fresh store."""
    with fresh_store(store) as env:
        me = [sys.executable, str(Path(__file__).resolve())]
        quick = ["--quick"] if sizes == Sizes.quick() else []
        child = run_json_child(
            [*me, "--phase", "scaling", *quick],
            HERE / "results" / f"mp-{store}-phase.tmp",
            env={**os.environ, **env},
        )
    if child.result is None:
        return {"error": f"scaling phase exit code {child.returncode}"}
    return {**child.result, "peak_rss_mb": child.peak_rss_mb, "wall_s": child.wall_s}


# ----------------------------------------------------------------------- main


def _extra_args(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--no-extras",
        action="store_true",
        help="skip the replay and scaling subprocesses",
    )
    parser.add_argument(
        "--phase",
        choices=("all", "seed", "replay", "scaling"),
        default="all",
        help=argparse.SUPPRESS,
    )
    parser.add_argument("--events", type=int, default=0, help=argparse.SUPPRESS)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("modelplane")
    except PackageNotFoundError:
        return "unknown"


def main() -> None:
    """Dispatch on ``--phase``; the default runs the workload and both extras."""
    args = parse_args(__doc__ or "", _extra_args)
    sizes = sizes_for(args)
    out = capture_stdout()
    if args.phase == "seed":
        emit(out, phase_seed(sizes, args.events))
        return
    if args.phase == "replay":
        emit(out, phase_replay())
        return
    if args.phase == "scaling":
        emit(out, phase_scaling(sizes))
        return

    with fresh_store(args.store) as env:
        use_store(env)
        errors: dict[str, str] = {}
        ops = workload(sizes, env, errors)
        rss = peak_rss_mb()
    extras: dict[str, Any] = {}
    if not args.no_extras:
        for name, fn in (("replay", run_replay), ("scaling", run_scaling)):
            try:
                extras[name] = fn(args.store, sizes)
            # An extra failing must not lose the workload figures.
            except Exception as exc:
                extras[name] = {"error": f"{type(exc).__name__}: {exc}"}
    # Pipelines and artifacts last, on a store of their own: the 1M-row frame would
    # otherwise sit in this process when it forks the replay child (Linux counts the
    # parent's pages in a forked child's peak RSS).
    with fresh_store(args.store) as env:
        use_store(env)
        from modelplane.store_handle import close_all

        close_all()
        from mp_flows import pipeline_and_artifact_ops

        pipeline_and_artifact_ops(sizes, ops)
        close_all()
    emit(
        out,
        {
            "system": "modelplane",
            "version": _version(),
            "store": args.store,
            "sizes": sizes.as_dict(),
            "ops": ops,
            "peak_rss_mb": rss,
            "op_errors": errors,
            "extras": extras,
        },
    )


if __name__ == "__main__":
    main()
