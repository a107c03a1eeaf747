"""MLflow 3.17 (in-process MlflowClient, SQLite store) under the benchmark workload.

Runs in benchmarks/.venvs/mlflow. The tracking and registry URIs both point
at a SQLite file in a fresh temp dir. MLflow has no stages-with-force or
metadata API in its registry, so the nearest equivalents are used (aliases
for promotion, a JSON version tag for metadata); it has no model-list CLI,
so ``cli_model_list`` is left out rather than faked. Prints one JSON object.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sys
import tempfile
import warnings
from functools import partial
from pathlib import Path
from typing import Any

from _common import (
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
    sizes_for,
    statement_samples,
    timed,
)


def isolate(root: Path) -> dict[str, str]:
    """Point MLflow at a private SQLite store (must run before import)."""
    uri = f"sqlite:///{root / 'mlflow.db'}"
    env = {
        "MLFLOW_TRACKING_URI": uri,
        "MLFLOW_REGISTRY_URI": uri,
        "MLFLOW_ENABLE_ASYNC_LOGGING": "false",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
    }
    os.environ.update(env)
    os.chdir(root)  # keeps ./mlruns and friends inside the temp dir
    return env


def run(root: Path, sizes: Sizes) -> dict[str, Any]:
    """Execute the workload and return the result document."""
    env = isolate(root)
    uri = env["MLFLOW_TRACKING_URI"]

    import mlflow
    from mlflow import MlflowClient

    logging.disable(logging.WARNING)  # alembic migration chatter
    warnings.simplefilter("ignore")  # stage/alias deprecation notices
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.search_registered_models(max_results=1)  # warm-up: schema + migrations
    ops: Ops = {}
    tags = {"license": "MIT", "a": "", "b": ""}

    log("register_model")
    s: Samples = ops.setdefault("register_model", [])
    for i in range(sizes.models):
        timed(
            s,
            partial(
                client.create_registered_model,
                f"m{i}",
                tags=tags,
                description="bench model",
            ),
        )

    log("create_version")
    client.create_registered_model("big", tags=tags, description="bench model")
    s = ops.setdefault("create_version", [])
    for _ in range(sizes.versions):
        timed(s, partial(client.create_model_version, "big", source="s3://b/p"))

    log("promote_force")
    s = ops.setdefault("promote_force", [])
    for n in range(1, sizes.promote + 1):
        timed(
            s,
            partial(client.set_registered_model_alias, "big", "production", str(n)),
        )

    log("get_by_stage")
    s = ops.setdefault("get_by_stage", [])
    for _ in range(sizes.get_by_stage):
        mv = timed(s, partial(client.get_model_version_by_alias, "big", "production"))
    assert int(mv.version) == sizes.promote, mv.version

    log("list_versions_page")
    s = ops.setdefault("list_versions_page", [])
    for _ in range(sizes.list_page):
        page = timed(
            s,
            partial(client.search_model_versions, "name='big'", max_results=sizes.page_size),
        )
    assert len(page) == min(sizes.page_size, sizes.versions), len(page)

    log("list_versions_all")
    s = ops.setdefault("list_versions_all", [])
    for _ in range(sizes.list_all):
        page = timed(s, partial(client.search_model_versions, "name='big'", max_results=10_000))
    assert len(page) == sizes.versions, len(page)

    log("log_metadata")
    s = ops.setdefault("log_metadata", [])
    value = json.dumps({"accuracy": 0.9, "f1": 0.8})
    for n in cycle(range(1, sizes.versions + 1), sizes.log_metadata):
        timed(
            s,
            partial(client.set_model_version_tag, "big", str(n), "evaluation_metrics", value),
        )

    log("delete_version")
    s = ops.setdefault("delete_version", [])
    for n in range(sizes.versions, sizes.versions - sizes.delete, -1):
        timed(s, partial(client.delete_model_version, "big", str(n)))

    log("import")
    errors: dict[str, str] = {}
    child_env = {**os.environ, **env}
    optional_op(
        ops,
        errors,
        "import",
        partial(import_samples, sys.executable, "mlflow", sizes.import_runs, child_env),
    )
    log("import_client")
    optional_op(
        ops,
        errors,
        "import_client",
        partial(
            statement_samples,
            sys.executable,
            "from mlflow import MlflowClient",
            sizes.import_runs,
            child_env,
        ),
    )
    # cli_model_list: absent on purpose, `mlflow` has no registry CLI.

    return {
        "system": "mlflow",
        "version": mlflow.__version__,
        "store": "sqlite",
        "sizes": sizes.as_dict(),
        "ops": ops,
        "absent_ops": {"cli_model_list": "mlflow has no model-registry CLI"},
        "peak_rss_mb": peak_rss_mb(),
        "op_errors": errors,
    }


def main() -> None:
    """Parse args, run in a throwaway dir, print the JSON result."""
    args = parse_args(__doc__ or "")
    sizes = sizes_for(args)
    out = capture_stdout()
    root = Path(tempfile.mkdtemp(prefix="bench-mlflow-"))
    try:
        result = run(root, sizes)
    finally:
        os.chdir("/")
        shutil.rmtree(root, ignore_errors=True)
    emit(out, result)


if __name__ == "__main__":
    main()
