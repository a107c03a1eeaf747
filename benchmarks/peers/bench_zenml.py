"""ZenML 0.98 (local SQLite store) under the modelplane benchmark workload.

Runs in benchmarks/.venvs/zenml. Everything ZenML writes (config, SQLite
store, repo marker) lives in a fresh temp dir, so runs never share state
and nothing global is touched. Prints one JSON object to stdout.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
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
    time_subprocess,
    timed,
)


def isolate(root: Path) -> dict[str, str]:
    """Point ZenML at a private config/store and silence it (must run before import)."""
    env = {
        "ZENML_CONFIG_PATH": str(root / "config"),
        "ZENML_ANALYTICS_OPT_IN": "false",
        "ZENML_LOGGING_VERBOSITY": "ERROR",
        "ZENML_ENABLE_RICH_TRACEBACK": "false",
        "ZENML_DEBUG": "false",
        "AUTO_OPEN_DASHBOARD": "false",
    }
    os.environ.update(env)
    os.chdir(root)  # no enclosing .zen repo can be picked up
    return env


def run(root: Path, sizes: Sizes) -> dict[str, Any]:
    """Execute the workload and return the result document."""
    env = isolate(root)

    import zenml
    from zenml import log_metadata
    from zenml.client import Client
    from zenml.enums import ModelStages

    logging.disable(logging.WARNING)  # ZenML logs an INFO/WARNING line on force-promotion
    client = Client()
    client.list_models(size=1)  # warm-up: store creation and migrations are not an op
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
        ids[mv.number] = mv.id

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
    assert mv.number == sizes.promote, mv.number

    log("list_versions_page")
    s = ops.setdefault("list_versions_page", [])
    for _ in range(sizes.list_page):
        page = timed(s, partial(client.list_model_versions, model="big", size=sizes.page_size))
    assert len(page.items) == min(sizes.page_size, sizes.versions), len(page.items)

    log("list_versions_all")
    s = ops.setdefault("list_versions_all", [])
    for _ in range(sizes.list_all):
        page = timed(s, partial(client.list_model_versions, model="big", size=10_000))
    assert len(page.items) == sizes.versions, len(page.items)

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

    log("import")
    child_env = {**os.environ, **env}
    errors: dict[str, str] = {}
    optional_op(
        ops,
        errors,
        "import",
        partial(import_samples, sys.executable, "zenml", sizes.import_runs, child_env),
    )
    log("import_client")
    optional_op(
        ops,
        errors,
        "import_client",
        partial(
            statement_samples,
            sys.executable,
            "from zenml.client import Client",
            sizes.import_runs,
            child_env,
        ),
    )

    log("cli_model_list")
    cli = str(Path(sys.executable).parent / "zenml")
    # "m1" (m1, m10.., m1xx) is on the first page in either sort order; it
    # proves the CLI read the populated store rather than an empty one.
    argv = [cli, "model", "list"]
    optional_op(
        ops,
        errors,
        "cli_model_list",
        partial(time_subprocess, argv, sizes.cli_runs, child_env, str(root), expect="m1"),
    )

    try:
        from zenml_flows import pipeline_and_artifact_ops

        pipeline_and_artifact_ops(sizes, ops)
    except Exception as error:  # recorded, not fatal: the rest of the workload stands
        errors["pipeline_and_artifacts"] = f"{type(error).__name__}: {error}"

    return {
        "system": "zenml",
        "version": zenml.__version__,
        "store": "sqlite",
        "sizes": sizes.as_dict(),
        "ops": ops,
        "peak_rss_mb": peak_rss_mb(),
        "op_errors": errors,
    }


def main() -> None:
    """Parse args, run in a throwaway dir, print the JSON result."""
    args = parse_args(__doc__ or "")
    sizes = sizes_for(args)
    out = capture_stdout()
    root = Path(tempfile.mkdtemp(prefix="bench-zenml-"))
    try:
        result = run(root, sizes)
    finally:
        os.chdir("/")
        shutil.rmtree(root, ignore_errors=True)
    emit(out, result)


if __name__ == "__main__":
    main()
