"""``modelplane run ...``: pipeline runs, listed, described, and marked failed when stale."""

from __future__ import annotations

from typing import Annotated

import typer

from modelplane.domain.errors import ValidationError

from .. import render, sdk
from ..options import REASON_HELP, JsonOpt, ModelFilterOpt, PageOpt, SizeOpt, force_option

app = typer.Typer(
    name="run",
    help="Pipeline runs: list, describe, mark a stale run failed.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command("list")
def list_runs(
    model: ModelFilterOpt = None,
    status: Annotated[str | None, typer.Option(help="running, completed or failed.")] = None,
    page: PageOpt = 1,
    size: SizeOpt = 50,
    as_json: JsonOpt = False,
) -> None:
    """List pipeline runs, newest first."""
    result = sdk.client().list_pipeline_runs(model=model, status=status, page=page, size=size)
    if as_json:
        render.print_json(result)
        return
    render.table(
        None,
        ("ID", "NAME", "PIPELINE", "STATUS", "MODEL VERSION", "HOW", "STARTED"),
        [
            (
                r.id,
                r.name,
                r.pipeline,
                f"{r.status} (stale)" if r.stale else r.status,
                r.model_version_id,
                r.model_version_how,
                render.when(r.started),
            )
            for r in result
        ],
    )
    render.page_note(result, "run")


@app.command("describe")
def describe_run(name_or_id: str, as_json: JsonOpt = False) -> None:
    """One run: its model version and how it got it, its steps with inputs and outputs."""
    run = sdk.client().get_pipeline_run(name_or_id)
    steps = run.steps
    if as_json:
        data = render.plain(run)
        data["steps"] = render.plain(steps)
        render.print_json(data)
        return
    render.fields(
        f"Run {run.name}",
        [
            ("id", run.id),
            ("pipeline", run.pipeline),
            ("status", run.status),
            ("model version", run.model_version_id),
            ("how", run.model_version_how),
            ("stage", run.stage),
            ("started", render.when(run.started)),
            ("finished", render.when(run.finished)),
            ("error", run.error),
        ],
    )
    render.table(
        "Steps",
        ("STEP", "STATUS", "INPUTS", "OUTPUTS", "MS", "ERROR"),
        [
            (
                s.name,
                s.status,
                render.payload(s.inputs),
                render.payload(s.outputs),
                f"{s.duration_ms:.1f}",
                s.error,
            )
            for s in steps.values()
        ],
    )


@app.command("mark-failed")
def mark_failed(
    name_or_id: str,
    reason: Annotated[str, typer.Option(help=REASON_HELP)] = "marked failed",
    force: Annotated[
        bool, force_option("Also end a run that is still alive (its pipeline then stops).")
    ] = False,
) -> None:
    """End a run left running (its process died: the run is stale) as failed.

    A run that still shows signs of life is refused without ``--force``: its pipeline is
    probably running, and would stop at its next step.
    """
    from modelplane import config
    from modelplane.domain.pipeline_run import FAILED, RUNNING

    client = sdk.client()
    run = client.get_pipeline_run(name_or_id)
    if run.status != RUNNING:
        raise ValidationError(f"Run '{run.name}' already ended ({run.status}).")
    if not run.stale and not force:
        msg = (
            f"Run '{run.name}' is still alive (last sign of life {render.when(run.updated)}, "
            f"stale after {config.stale_run_seconds():g}s without one); pass --force to mark "
            "it failed anyway, which stops its pipeline at its next step."
        )
        raise ValidationError(msg)
    client.backend.finish_run(run.id, status=FAILED, error=reason)
    render.note(f"Run '{run.name}' marked failed.")
