"""`make bench BENCH_ARGS="--scale"`: how modelplane's costs grow with the size of its store.

Each family (``scale_families``) runs in its own subprocess on a fresh store (SQLite, then
PostgreSQL), grown in bulk through the domain (``scale_seed``) to each size in turn and
measured there through the SDK and the CLI. The tables give each curve's value at every size
and its ratio largest/smallest size, against the issue's targets: every read flat within 2x
(and under 2 ms on SQLite at the largest size), no single write over 10 ms at any size, store
bytes per event flat. Nothing is asserted; results go to
``benchmarks/results/scale-<UTC>.json``.

    .venv/bin/python benchmarks/run.py --scale                            # 10, 1,000, 100,000
    .venv/bin/python benchmarks/run.py --scale --quick                    # 10, 1,000
    .venv/bin/python benchmarks/run.py --scale --scale-sizes 10,1000,10000 --no-postgres
    .venv/bin/python benchmarks/run.py --scale --families versions,archived
    .venv/bin/python benchmarks/scale.py --show benchmarks/results/scale-<UTC>.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from peers._common import capture_stdout, emit, run_json_child

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
STORES: tuple[str, ...] = ("sqlite", "postgres")
FAMILY_NAMES: tuple[str, ...] = ("versions", "models", "events", "archived", "artifact", "named")
DEFAULT_SIZES: tuple[int, ...] = (10, 1_000, 100_000)
QUICK_SIZES: tuple[int, ...] = (10, 1_000)

#: Targets from the issue.
READ_FLAT_X = 2.0
READ_MAX_MS_SQLITE = 2.0
WRITE_MAX_MS = 10.0
REPLAY_MIN_EPS = 60_000.0
REPLAY_MAX_MB = 200.0


def events_for(size: int) -> int:
    """The ``events`` family's size for a subject size: 10 -> 1,000 ... 100,000 -> 1,000,000."""
    return max(1_000, 10 * size)


def note(msg: str) -> None:
    print(f"[scale] {msg}", flush=True)


# ------------------------------------------------------------------------ running


def run_one(store: str, family: str, sizes: Sequence[int], args: argparse.Namespace) -> Any:
    """One family on one fresh store, in a subprocess; its JSON plus its peak RSS."""
    from bench_modelplane import fresh_store

    child_sizes = [events_for(s) for s in sizes] if family == "events" else list(sizes)
    if family == "events" and args.scale_events:
        child_sizes = [int(x) for x in args.scale_events.split(",")]
    argv = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        family,
        "--sizes",
        ",".join(str(s) for s in child_sizes),
        "--reads",
        str(args.reads),
        "--writes",
        str(args.writes),
        "--max-store-gb",
        str(args.max_store_gb),
    ]
    note(f"{store} {family}: sizes {', '.join(f'{s:,}' for s in child_sizes)}")
    with fresh_store(store) as env:
        child = run_json_child(
            argv, RESULTS / f"scale-{store}-{family}.tmp", env={**os.environ, **env}, cwd=str(HERE)
        )
    if child.result is None:
        note(f"{store} {family}: FAILED (exit code {child.returncode}) after {child.wall_s:.0f} s")
        return {"family": family, "error": f"exit code {child.returncode}", "wall_s": child.wall_s}
    note(f"{store} {family}: done in {child.wall_s:.0f} s, peak RSS {child.peak_rss_mb:.0f} MB")
    return {**child.result, "wall_s": child.wall_s, "peak_rss_mb": child.peak_rss_mb}


def child_main(args: argparse.Namespace) -> int:
    """Subprocess body: one family on the store the environment names."""
    from scale_families import Params, run_family

    out = capture_stdout()
    params = Params(
        reads=args.reads,
        writes=args.writes,
        max_store_bytes=int(args.max_store_gb * 1024**3),
    )
    sizes = [int(s) for s in args.sizes.split(",")]
    emit(out, run_family(args.child, sizes, params))
    return 0


# ---------------------------------------------------------------------- reporting


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ms":
        return f"{value:.3f}" if value < 1 else f"{value:.2f}" if value < 100 else f"{value:,.0f}"
    if unit == "x":
        return f"{value:.2f}x"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.1f}"


def _curve_rows(store: str, metric: str, figures: list[dict[str, Any] | None]) -> list[Any]:
    """(label, unit, values, target kind) for one metric's figures across the sizes."""
    kind = next((f.get("kind") for f in figures if f), None)
    if kind == "read":
        return [(f"{metric} ms", "ms", [_get(f, "median_ms") for f in figures], f"read-{store}")]
    # (a page read's ratio is taken from its first full page: see family_table)
    if kind == "write":
        return [
            (f"{metric} ms (median)", "ms", [_get(f, "median_ms") for f in figures], "flat"),
            (f"{metric} ms (p95)", "ms", [_get(f, "p95_ms") for f in figures], "info"),
            (f"{metric} ms (max)", "ms", [_get(f, "max_ms") for f in figures], "write-max"),
        ]
    if kind == "process":
        return [(f"{metric} ms (process)", "ms", [_get(f, "median_ms") for f in figures], "flat")]
    if kind == "replay":
        return [
            ("replay events/s", "n", [_get(f, "events_per_s") for f in figures], "replay-eps"),
            ("replay peak RSS MB", "n", [_get(f, "peak_rss_mb") for f in figures], "replay-mb"),
        ]
    return []


def _get(figure: dict[str, Any] | None, key: str) -> float | None:
    if not figure or figure.get(key) is None:
        return None
    return float(figure[key])


def _verdict(target: str, values: list[float | None], start: int = 0) -> tuple[float | None, str]:
    """The ratio largest/smallest size (from the ``start``-th size on), and the verdict."""
    known = [v for v in values[start:] if v is not None]
    if len(known) < 2 or not known[0]:
        return None, "n/a"
    ratio = known[-1] / known[0]
    flat = ratio <= READ_FLAT_X
    if target == "read-sqlite":
        ok = flat and known[-1] < READ_MAX_MS_SQLITE
        limits = f"<={READ_FLAT_X:g}x, <{READ_MAX_MS_SQLITE:g} ms"
        return ratio, f"{'met' if ok else 'missed'} ({limits})"
    if target == "write-max":
        ok = max(known) <= WRITE_MAX_MS
        return ratio, f"{'met' if ok else 'missed'} (every max <={WRITE_MAX_MS:g} ms)"
    if target == "replay-eps":
        ok = known[-1] >= REPLAY_MIN_EPS and ratio >= 1 / READ_FLAT_X
        return ratio, f"{'met' if ok else 'missed'} (>={REPLAY_MIN_EPS:,.0f}/s, flat)"
    if target == "replay-mb":
        ok = known[-1] < REPLAY_MAX_MB
        return ratio, f"{'met' if ok else 'missed'} (<{REPLAY_MAX_MB:g} MB at the largest)"
    if target == "info":
        return ratio, ""
    return ratio, f"{'met' if flat else 'missed'} (flat <={READ_FLAT_X:g}x)"


def family_table(store: str, result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of one family's curves on one store."""
    points = [p for p in result.get("points", []) if "metrics" in p]
    header = [f"{result['family']} ({result.get('axis', '')})"]
    header += [f"{p['size']:,}" for p in points] + ["largest/smallest", "target"]
    rows: list[list[str]] = []

    def add(label: str, unit: str, values: list[float | None], target: str, start: int = 0) -> None:
        ratio, verdict = _verdict(target, values, start)
        rows.append([label, *(_fmt(v, unit) for v in values), _fmt(ratio, "x"), verdict])

    names: list[str] = []
    for p in points:
        names += [m for m in p["metrics"] if m not in names]
    for metric in names:
        figures = [p["metrics"].get(metric) for p in points]
        errors = [f["error"] for f in figures if f and "error" in f]
        if errors:
            rows.append([metric, *("error" for _ in points), "", errors[0][:60]])
            continue
        # A page that is not full yet (10 versions, asked for 100) measures fewer rows, not a
        # smaller store: a page read's ratio starts at the first size where it is full.
        rows_read = [_get(f, "rows") for f in figures]
        most = max((r for r in rows_read if r is not None), default=None)
        full = rows_read.index(most) if most is not None else 0
        for label, unit, values, target in _curve_rows(store, metric, figures):
            start = full if target.startswith("read-") else 0
            if start:
                label += f" (ratio from {points[start]['size']:,}: {most:,.0f} rows)"
            add(label, unit, values, target, start)
    stores = [p["store"] for p in points]
    add(f"{result.get('axis', 'size')} when measured", "n", [p["reached"] for p in points], "info")
    # a store of a few dozen events is mostly its tables' first pages: the per-event ratios
    # start at the first size with 1,000 events or more
    big = next((i for i, s in enumerate(stores) if s["events"] >= 1_000), len(stores))
    per_event = f" (ratio from {points[big]['size']:,})" if 0 < big < len(points) else ""
    for key, label in (
        ("store_bytes_per_event", "store bytes/event"),
        ("snapshot_bytes_per_event", "snapshot bytes/event"),
    ):
        add(label + per_event, "n", [s[key] for s in stores], "flat", big)
    add("largest snapshot bytes", "n", [float(s["largest_snapshot_bytes"]) for s in stores], "info")
    add("events in store", "n", [float(s["events"]) for s in stores], "info")
    add("seeding events/s", "n", [p["seed_events_per_s"] for p in points], "info")
    add("seeding s", "n", [p["seed_s"] for p in points], "info")
    for p in result.get("points", []):
        if "skipped" in p:
            rows.append([f"size {p['size']:,}", *("" for _ in points), "", p["skipped"]])
    return header, rows


def report(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Print every family's table per store; return the tables for the JSON."""
    from run import print_table

    tables: dict[str, Any] = {}
    for store, families in results.items():
        for family, result in families.items():
            key = f"{store}/{family}"
            if "error" in result:
                print(f"\nmodelplane-{store} {family}: FAILED ({result['error']})")
                continue
            header, rows = family_table(store, result)
            title = f"modelplane-{store} scale: {result.get('about', family)}"
            print_table(title, header, rows)
            tables[key] = {"header": header, "rows": rows}
    return tables


# --------------------------------------------------------------------------- main


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The scale options, shared with ``run.py``."""
    parser.add_argument(
        "--scale-sizes",
        help="comma-separated sizes (default 10,1000,100000; --quick: 10,1000); "
        "the events family uses max(1000, 10 x size) events",
    )
    parser.add_argument("--scale-events", help="the events family's sizes, overriding the above")
    parser.add_argument(
        "--families", help=f"comma-separated subset of {','.join(FAMILY_NAMES)} (default: all)"
    )
    parser.add_argument("--reads", type=int, default=0, help="timed calls per read (default 50)")
    parser.add_argument("--writes", type=int, default=210, help="timed calls per write")
    parser.add_argument(
        "--max-store-gb", type=float, default=4.0, help="stop growing a family past this"
    )


def run_scale(args: argparse.Namespace) -> int:
    """Run the selected families on each store, print the curves, save the JSON."""
    if args.scale_sizes:
        sizes = [int(s.replace("_", "")) for s in args.scale_sizes.split(",")]
    else:
        sizes = list(QUICK_SIZES if args.quick else DEFAULT_SIZES)
    if not args.reads:
        args.reads = 20 if args.quick else 50
    families = args.families.split(",") if args.families else list(FAMILY_NAMES)
    unknown = [f for f in families if f not in FAMILY_NAMES]
    if unknown:
        raise SystemExit(f"unknown families: {', '.join(unknown)}")
    stores = [s for s in STORES if not (s == "postgres" and args.no_postgres)]
    started = time.perf_counter()
    results: dict[str, dict[str, Any]] = {}
    for store in stores:
        for family in families:
            results.setdefault(store, {})[family] = run_one(store, family, sizes, args)
    tables = report(results)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    doc = {
        "timestamp_utc": stamp,
        "kind": "scale",
        "sizes": sizes,
        "wall_s": time.perf_counter() - started,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "targets": {
            "read_flat_x": READ_FLAT_X,
            "read_max_ms_sqlite": READ_MAX_MS_SQLITE,
            "write_max_ms": WRITE_MAX_MS,
            "replay_min_eps": REPLAY_MIN_EPS,
            "replay_max_mb": REPLAY_MAX_MB,
        },
        "results": results,
        "tables": tables,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"scale-{stamp}.json"
    path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    note(f"wrote {path}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description="modelplane scale curves")
    parser.add_argument("--quick", action="store_true", help="smoke sizes (10, 1,000)")
    parser.add_argument("--no-postgres", action="store_true", help="SQLite only")
    parser.add_argument("--show", metavar="JSON", help="re-print a saved scale result")
    parser.add_argument("--child", choices=FAMILY_NAMES, help=argparse.SUPPRESS)
    parser.add_argument("--sizes", help=argparse.SUPPRESS)
    add_arguments(parser)
    args = parser.parse_args()
    if args.child:
        return child_main(args)
    if args.show:
        saved = json.loads(Path(args.show).read_text(encoding="utf-8"))
        report(saved["results"])
        return 0
    return run_scale(args)


if __name__ == "__main__":
    sys.exit(main())
