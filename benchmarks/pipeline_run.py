"""One 2-step pipeline run with a model attached: wall time per run, on a fresh store.

The same shape as ZenML's anchor figure (``/work/shared/anchors/zenml.md``: ~1000 ms per run,
local orchestrator, warm process): a model with no version (a new version per run), a step
producing a small dict and a step consuming it. Prints the median, p95 and min in ms.

    python benchmarks/pipeline_run.py [--runs 20] [--warmup 2]

Uses a temporary ``MODELPLANE_HOME`` (SQLite) unless ``MODELPLANE_STORE_URL`` is set.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from typing import Annotated


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args()
    if "MODELPLANE_STORE_URL" not in os.environ:
        os.environ["MODELPLANE_HOME"] = tempfile.mkdtemp(prefix="mp-bench-pipeline-")

    from modelplane import Model, pipeline, step

    @step
    def make_data() -> Annotated[dict[str, list[int]], "data"]:
        return {"x": [1, 2, 3], "y": [0, 1, 0]}

    @step
    def train(data: dict[str, list[int]]) -> Annotated[dict[str, float], "trained_model"]:
        return {"weight": sum(data["x"]) / len(data["x"])}

    @pipeline(model=Model(name="bench_pipeline_model"))
    def two_steps() -> None:
        train(make_data())

    for _ in range(args.warmup):
        two_steps()
    samples = []
    for _ in range(args.runs):
        started = time.perf_counter()
        run = two_steps()
        samples.append((time.perf_counter() - started) * 1000)
        assert run.status == "completed"
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    print(
        f"2-step pipeline run with a model, {args.runs} runs: median "
        f"{statistics.median(samples):.1f} ms, p95 {p95:.1f} ms, min {samples[0]:.1f} ms"
    )


if __name__ == "__main__":
    main()
