"""``modelplane artifact ...``: artifact versions, listed and described."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import render, sdk
from ..options import JsonOpt, PageOpt, SizeOpt
from ..params import version_selector

app = typer.Typer(
    name="artifact",
    help="Artifact versions: list and describe.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command("list")
def list_artifacts(
    name: Annotated[str | None, typer.Option(help="Only versions of this artifact.")] = None,
    page: PageOpt = 1,
    size: SizeOpt = 50,
    as_json: JsonOpt = False,
) -> None:
    """List artifact versions, newest first."""
    result = sdk.client().list_artifact_versions(name=name, page=page, size=size)
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


@app.command("describe")
def describe_artifact(
    name_or_id: str,
    version: Annotated[str | None, typer.Option(help="Version number (default: newest).")] = None,
    as_json: JsonOpt = False,
) -> None:
    """One artifact version: where it is stored, what made it, which runs read it."""
    if version is not None:
        version_selector(version)
    found = sdk.client().get_artifact_version(name_or_id, version)
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
