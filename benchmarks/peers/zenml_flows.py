"""The pipeline and artifact part of the workload, on ZenML 0.98 (its own API names)."""

from __future__ import annotations

import tempfile
from functools import partial
from pathlib import Path
from typing import Annotated, Any

from _common import Ops, Sizes, log, timed
from zenml import Model, link_artifact_to_model, load_artifact, pipeline, save_artifact, step


@step(enable_cache=False)
def make_features() -> Annotated[dict, "features"]:
    return {"x": [1, 2, 3]}


@step(enable_cache=False)
def total(features: dict) -> Annotated[int, "total"]:
    return sum(features["x"])


@pipeline(model=Model(name="bench_pipeline"), enable_cache=False)
def two_steps() -> None:
    total(make_features())


def pipeline_and_artifact_ops(sizes: Sizes, ops: Ops) -> None:
    log("pipeline_2step")
    for _ in range(2):
        two_steps()  # warm-up: pipeline and model registration are not an op
    s = ops.setdefault("pipeline_2step", [])
    for _ in range(sizes.pipeline_runs):
        timed(s, two_steps)

    log("artifact_save_link_load")
    target = Model(name="bench_pipeline", version="1")  # made by the warm-up runs
    s = ops.setdefault("artifact_save_link_load", [])
    for i in range(sizes.artifact_small):
        timed(s, partial(_save_link_load, "small", {"accuracy": 0.9, "i": i}, target))

    log("frame_save_link_load")
    frame = sizes.frame()
    s = ops.setdefault("frame_save_link_load", [])
    for _ in range(sizes.frame_runs):
        frame.loc[0, "x"] += 1.0
        timed(s, partial(_save_link_load, "frame", frame, target))

    log("pandas_parquet_roundtrip")
    s = ops.setdefault("pandas_parquet_roundtrip", [])
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "frame.parquet"
        for _ in range(sizes.frame_runs):
            frame.loc[0, "x"] += 1.0
            timed(s, partial(_pandas_roundtrip, frame, path))


def _save_link_load(name: str, value: Any, model: Model) -> Any:
    # ZenML 0.98: save_artifact(data, name); linking outside a step needs the model
    version = save_artifact(value, name)
    link_artifact_to_model(version, model)
    return load_artifact(name)


def _pandas_roundtrip(frame: Any, path: Path) -> Any:
    import pandas as pd

    frame.to_parquet(path)
    return pd.read_parquet(path)
