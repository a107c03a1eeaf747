"""``modelplane run ...``, ``modelplane artifact ...`` and the lineage of a model version."""

from __future__ import annotations

from typing import Annotated

import typer

from modelplane.domain.errors import ValidationError

from . import render
from .models import JsonOpt, PageOpt, SizeOpt, _client, _get_version, versions
from .params import version_selector

runs = typer.Typer(
    help="Pipeline runs: list, describe, mark a stale run failed.", no_args_is_help=True
)
artifacts = typer.Typer(help="Artifact versions: list and describe.", no_args_is_help=True)

KINDS = ("data", "model", "deployment")


@versions.command("artifacts")
def version_artifacts(
    name: str,
    version: str,
    kind: Annotated[str | None, typer.Option(help="data, model or deployment.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Artifact versions linked to a model version, by kind."""
    if kind is not None and kind not in KINDS:
        raise ValidationError(f"--kind must be one of {', '.join(KINDS)}, not '{kind}'.")
    found = _get_version(_client(), name, version)
    groups = {
        "data": found.data_artifacts,
        "model": found.model_artifacts,
        "deployment": found.deployment_artifacts,
    }
    rows = [
        (link_kind, artifact)
        for link_kind, by_name in groups.items()
        if kind in (None, link_kind)
        for versions_of_name in by_name.values()
        for artifact in versions_of_name.values()
    ]
    if as_json:
        render.print_json([dict(render.plain(a), link_kind=k) for k, a in rows])
        return
    render.table(
        f"Artifacts of {name} version {found.name}",
        ("KIND", "NAME", "VERSION", "TYPE", "PRODUCED BY", "STEP", "URI"),
        [
            (k, a.name, a.version, a.data_type, a.producer_run_id, a.producer_step, a.uri)
            for k, a in rows
        ],
    )


@versions.command("runs")
def version_runs(name: str, version: str, as_json: JsonOpt = False) -> None:
    """Runs that produced a model version and runs that consumed it."""
    found = _get_version(_client(), name, version)
    producing, consuming = found.producing_runs, found.consuming_runs
    if as_json:
        render.print_json({"producing": producing, "consuming": consuming})
        return
    render.table(
        f"Runs of {name} version {found.name}",
        ("ROLE", "RUN", "PIPELINE", "STATUS", "HOW", "STARTED"),
        [
            ("produced", r.name, r.pipeline, r.status, r.model_version_how, render.when(r.started))
            for r in producing
        ]
        + [
            ("consumed", r.name, r.pipeline, r.status, r.model_version_how, render.when(r.started))
            for r in consuming
        ],
    )


@runs.command("list")
def list_runs(
    model: Annotated[str | None, typer.Option(help="Only runs of this model.")] = None,
    status: Annotated[str | None, typer.Option(help="running, completed or failed.")] = None,
    page: PageOpt = 1,
    size: SizeOpt = 50,
    as_json: JsonOpt = False,
) -> None:
    """List pipeline runs, newest first."""
    result = _client().list_pipeline_runs(model=model, status=status, page=page, size=size)
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


@runs.command("describe")
def describe_run(name_or_id: str, as_json: JsonOpt = False) -> None:
    """One run: its model version and how it got it, its steps with inputs and outputs."""
    run = _client().get_pipeline_run(name_or_id)
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


@runs.command("mark-failed")
def mark_failed(
    name_or_id: str,
    reason: Annotated[str, typer.Option(help="Why (kept in the log).")] = "marked failed",
    force: Annotated[
        bool,
        typer.Option(
            "--force", "-f", help="Also end a run that is still alive (its pipeline then stops)."
        ),
    ] = False,
) -> None:
    """End a run left running (its process died: the run is stale) as failed.

    A run that still shows signs of life is refused without ``--force``: its pipeline is
    probably running, and would stop at its next step.
    """
    from modelplane import config

    client = _client()
    run = client.get_pipeline_run(name_or_id)
    if run.status != "running":
        raise ValidationError(f"Run '{run.name}' already ended ({run.status}).")
    if not run.stale and not force:
        msg = (
            f"Run '{run.name}' is still alive (last sign of life {render.when(run.updated)}, "
            f"stale after {config.stale_run_seconds():g}s without one); pass --force to mark "
            "it failed anyway, which stops its pipeline at its next step."
        )
        raise ValidationError(msg)
    client._store.registry.finish_run(run.id, status="failed", error=reason, actor=config.actor())
    render.note(f"Run '{run.name}' marked failed.")


@artifacts.command("list")
def list_artifacts(
    name: Annotated[str | None, typer.Option(help="Only versions of this artifact.")] = None,
    page: PageOpt = 1,
    size: SizeOpt = 50,
    as_json: JsonOpt = False,
) -> None:
    """List artifact versions, newest first."""
    result = _client().list_artifact_versions(name=name, page=page, size=size)
    if as_json:
        render.print_json(result)
        return
    render.table(
        None,
        ("ID", "NAME", "VERSION", "TYPE", "SIZE", "PRODUCED BY", "CREATED"),
        [
            (
                a.id,
                a.name,
                a.version,
                a.data_type,
                a.size_bytes,
                a.producer_run_id,
                render.when(a.created),
            )
            for a in result
        ],
    )
    render.page_note(result, "artifact version")


@artifacts.command("describe")
def describe_artifact(
    name_or_id: str,
    version: Annotated[str | None, typer.Option(help="Version number (default: newest).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """One artifact version: where it is stored, what made it, which runs read it."""
    if version is not None:
        version_selector(version)
    found = _client().get_artifact_version(name_or_id, version)
    consumers = found.consumers
    if as_json:
        data = render.plain(found)
        data["consumers"] = render.plain(consumers)
        render.print_json(data)
        return
    render.fields(
        f"Artifact {found.name} version {found.version}",
        [
            ("id", found.id),
            ("type", found.data_type),
            ("artifact type", found.artifact_type),
            ("materializer", found.materializer),
            ("uri", found.uri),
            ("sha256", found.content_hash),
            ("size", found.size_bytes),
            ("produced by run", found.producer_run_id),
            ("step", found.producer_step),
            ("read by", ", ".join(f"{c.run_id}:{c.step}" for c in consumers)),
            ("created", render.when(found.created)),
        ],
    )
