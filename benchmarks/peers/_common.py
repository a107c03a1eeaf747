"""Shared, stdlib-only helpers for every benchmark script.

Kept free of third-party imports because it is loaded by three different
interpreters (the project venv and one private venv per peer), so the
workload sizes, timing method and output format are identical everywhere.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

T = TypeVar("T")

Samples = list[float]
Ops = dict[str, Samples]


@dataclass(frozen=True)
class Sizes:
    """How many calls each op makes; one instance is shared by all systems."""

    models: int = 200
    versions: int = 1_000
    promote: int = 200
    get_by_stage: int = 500
    list_page: int = 200
    list_all: int = 30
    log_metadata: int = 500
    delete: int = 200
    import_runs: int = 10
    cli_runs: int = 10
    page_size: int = 100
    replay_events: int = 1_000_000
    scaling_points: tuple[int, ...] = (10, 1_000, 100_000)
    scaling_samples: int = 200
    pipeline_runs: int = 20
    artifact_small: int = 100
    frame_rows: int = 1_000_000
    frame_runs: int = 5

    @classmethod
    def quick(cls) -> Sizes:
        """Smoke-test sizes: the same op mix, an order of magnitude smaller."""
        return cls(
            models=20,
            versions=100,
            promote=20,
            get_by_stage=50,
            list_page=20,
            list_all=5,
            log_metadata=50,
            delete=20,
            import_runs=3,
            cli_runs=3,
            replay_events=10_000,
            scaling_points=(10, 1_000),
            scaling_samples=50,
            pipeline_runs=5,
            artifact_small=20,
            frame_rows=100_000,
            frame_runs=2,
        )

    def frame(self) -> Any:
        """The DataFrame both systems store: ints, floats and a low-cardinality string."""
        import numpy as np
        import pandas as pd

        rng = np.random.default_rng(7)
        n = self.frame_rows
        return pd.DataFrame(
            {
                "id": np.arange(n),
                "x": rng.random(n),
                "y": rng.integers(0, 100, n),
                "label": rng.choice(["a", "b", "c"], n),
            }
        )

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly view, recorded in every result for reproducibility."""
        return asdict(self)


def parse_args(
    description: str, extra: Callable[[argparse.ArgumentParser], None] | None = None
) -> argparse.Namespace:
    """Common CLI: ``--quick`` selects :meth:`Sizes.quick`."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke test")
    if extra is not None:
        extra(parser)
    return parser.parse_args()


def sizes_for(args: argparse.Namespace) -> Sizes:
    """Pick the workload sizes from parsed args."""
    return Sizes.quick() if args.quick else Sizes()


def capture_stdout() -> IO[str]:
    """Reserve the real stdout for the single JSON result.

    Peers log to stdout (ZenML's console handler, alembic, tqdm...). File
    descriptor 1 is pointed at stderr so nothing but the result reaches the
    orchestrator's pipe; the returned stream is the original stdout.
    """
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(saved, "w", encoding="utf-8")


def emit(out: IO[str], result: Mapping[str, Any]) -> None:
    """Write the result as one JSON line and close the stream."""
    out.write(json.dumps(result, separators=(",", ":")) + "\n")
    out.flush()
    out.close()


def timed(samples: Samples, fn: Callable[[], T]) -> T:
    """Call ``fn`` once, append its wall time in ms to ``samples``, return its result."""
    start = time.perf_counter()
    value = fn()
    samples.append((time.perf_counter() - start) * 1000.0)
    return value


def peak_rss_mb() -> float:
    """Peak RSS of this process so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def children_peak_rss_mb() -> float:
    """Largest peak RSS among waited-for child processes so far."""
    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0


def time_subprocess(
    argv: Sequence[str],
    runs: int,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
    expect: str | None = None,
) -> Samples:
    """Wall ms of ``runs`` fresh processes; raises if any exits non-zero.

    A failing command (or one whose stdout lacks ``expect``) is an error
    rather than a sample, so a broken CLI or one pointed at the wrong store
    cannot show up as a suspiciously fast figure.
    """
    samples: Samples = []
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.run(
            list(argv),
            check=False,
            env=dict(env) if env is not None else None,
            cwd=cwd,
            capture_output=True,
            text=True,
        )
        elapsed = (time.perf_counter() - start) * 1000.0
        if proc.returncode != 0:
            raise RuntimeError(
                f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr.strip()[-2000:]}"
            )
        if expect is not None and expect not in proc.stdout:
            raise RuntimeError(
                f"{' '.join(argv)}: {expect!r} not in its output: {proc.stdout.strip()[-2000:]}"
            )
        samples.append(elapsed)
    return samples


def import_samples(
    python: str, module: str, runs: int, env: Mapping[str, str] | None = None
) -> Samples:
    """Wall ms of ``python -c "import <module>"`` in a fresh interpreter."""
    return time_subprocess([python, "-c", f"import {module}"], runs, env=env)


def statement_samples(
    python: str, statement: str, runs: int, env: Mapping[str, str] | None = None
) -> Samples:
    """Wall ms of ``python -c "<statement>"`` in a fresh interpreter (an SDK's entry import)."""
    return time_subprocess([python, "-c", statement], runs, env=env)


def cycle(values: Sequence[T], count: int) -> Iterable[T]:
    """First ``count`` items of ``values`` repeated round-robin."""
    for i in range(count):
        yield values[i % len(values)]


def log(msg: str) -> None:
    """Progress note on stderr (stdout carries only the JSON result)."""
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


@dataclass
class ChildRun:
    """Outcome of one JSON-printing benchmark subprocess."""

    returncode: int
    result: dict[str, Any] | None
    peak_rss_mb: float
    wall_s: float


def run_json_child(
    argv: Sequence[str],
    tmp: Path,
    env: Mapping[str, str] | None = None,
    cwd: str | None = None,
) -> ChildRun:
    """Run a benchmark subprocess; parse its last JSON line; get its own peak RSS.

    stdout goes to the file ``tmp`` (a result can exceed a pipe buffer, and
    ``os.wait4`` is needed instead of ``Popen.wait`` to read the child's
    rusage, which covers that child only and not its own children);
    stderr is inherited so progress streams through.
    """
    tmp.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with tmp.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(
            list(argv), stdout=out, env=dict(env) if env is not None else None, cwd=cwd
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall_s = time.perf_counter() - start
    text = tmp.read_text(encoding="utf-8")
    tmp.unlink(missing_ok=True)
    lines = [line for line in text.splitlines() if line.startswith("{")]
    result = json.loads(lines[-1]) if proc.returncode == 0 and lines else None
    return ChildRun(proc.returncode, result, usage.ru_maxrss / 1024.0, wall_s)


def optional_op(ops: Ops, errors: dict[str, str], name: str, fn: Callable[[], Samples]) -> None:
    """Record ``fn``'s samples under ``name``, or its error without aborting the run.

    Used for the subprocess ops (import, CLI), which can fail for reasons
    outside the library (missing console script); the in-process figures
    are still worth reporting when they do.
    """
    try:
        ops[name] = fn()
    except (OSError, RuntimeError) as exc:
        errors[name] = f"{type(exc).__name__}: {exc}"[:2000]
        log(f"{name} FAILED: {errors[name][:300]}")
