"""``modelplane model version ...``: a model's versions, their stages and their lineage."""

from __future__ import annotations

import shlex
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from modelplane.domain import stages
from modelplane.domain.errors import StageOccupiedError, ValidationError
from modelplane.domain.link_kinds import DATA, DEPLOYMENT, LINK_KINDS, MODEL
from modelplane.domain.stages import selected_stage

from .... import render, sdk
from ....confirm import confirm
from ....lazy_group import lazy_group
from ....options import (
    STAGE_CHOICES,
    AddTagsOpt,
    AtOpt,
    CursorOpt,
    JsonOpt,
    PageOpt,
    ReasonOpt,
    RemoveTagsOpt,
    SizeOpt,
    TagsOpt,
    VersionDescriptionOpt,
    YesOpt,
    choices,
    force_option,
)
from ....params import parse_at, version_selector

if TYPE_CHECKING:
    from modelplane.client import Client
    from modelplane.responses import ModelVersionResponse

app = typer.Typer(
    name="version",
    help="Versions of a model: list, describe, create, update (stage), delete.",
    no_args_is_help=True,
    add_completion=False,
    cls=lazy_group(__name__, "tag"),
)


def _get_version(client: Client, name: str, version: str, at: Any = None) -> ModelVersionResponse:
    """``client.get_model_version`` for a VERSION argument, refused in CLI words.

    ``none`` and ``archived`` may be held by several versions, so they select no single one;
    the SDK's message names its own call, this one the command that lists them.
    """
    stage = selected_stage(version_selector(version))
    if stage is not None and stage != stages.LATEST and stage not in stages.EXCLUSIVE:
        msg = f"Several versions of '{name}' may be in stage '{stage}', so it names no version"
        if at is None:
            msg += (
                f"; list them with: modelplane model version list {shlex.quote(name)} "
                f"--stage {stage}"
            )
        else:
            msg += "; with --at, name a version, a number, staging or production."
        raise ValidationError(msg)
    return client.get_model_version(name, version, at=at)


def _show_version(version: ModelVersionResponse, as_json: bool) -> None:
    metadata = version.run_metadata
    if as_json:
        data = render.plain(version)
        data["run_metadata"] = {k: v.value for k, v in metadata.items()}
        render.print_json(data)
        return
    pairs = [
        ("id", version.id),
        ("model", version.model_name),
        ("name", version.name),
        ("number", version.number),
        ("stage", render.stage(version.stage)),
        ("description", version.description),
        ("tags", ", ".join(version.tags)),
        ("aliases", ", ".join(version.aliases)),
        *((f"tag: {k}", v) for k, v in version.key_value_tags.items()),
        ("source", version.source),
        ("run id", version.run_id),
        ("run link", version.run_link),
        ("created", render.when(version.created)),
        ("updated", render.when(version.updated)),
        ("created by", version.user),
    ]
    pairs += [(f"metadata: {k}", render.plain(v.value)) for k, v in metadata.items()]
    render.fields(f"Model {version.model_name} version {version.name}", pairs)


@app.command("list")
def list_versions(
    name: str,
    stage: Annotated[
        str | None, typer.Option(help=f"Only versions in this stage: {STAGE_CHOICES}.")
    ] = None,
    tag: Annotated[str | None, typer.Option(help="Only versions with this tag.")] = None,
    page: PageOpt = 1,
    size: SizeOpt = 50,
    as_json: JsonOpt = False,
    cursor: CursorOpt = None,
) -> None:
    """List a model's versions, newest first."""
    result = sdk.client().list_model_versions(
        name, stage=stage, tag=tag, page=page, size=size, cursor=cursor
    )
    if as_json:
        render.print_json(result)
        return
    render.table(
        f"Versions of {name}",
        ("ID", "NUMBER", "NAME", "STAGE", "TAGS", "CREATED"),
        [
            (
                v.id,
                v.number,
                v.name,
                render.stage(v.stage),
                ", ".join(v.tags),
                render.when(v.created),
            )
            for v in result
        ],
    )
    render.page_note(result, "version")


@app.command("describe")
def describe_version(name: str, version: str, at: AtOpt = None, as_json: JsonOpt = False) -> None:
    """Show one version (VERSION: a name, number, id, or stage such as production)."""
    _show_version(_get_version(sdk.client(), name, version, at=parse_at(at)), as_json)


@app.command("create")
def create_version(
    name: str,
    version_name: Annotated[str | None, typer.Option("--name", help="Default: the number.")] = None,
    description: VersionDescriptionOpt = None,
    tag: TagsOpt = None,
    source: Annotated[
        str | None, typer.Option(help="Where the version's files are (a URI); kept for good.")
    ] = None,
    run_id: Annotated[
        str | None, typer.Option(help="The run that made it, in another system (MLflow's).")
    ] = None,
    run_link: Annotated[str | None, typer.Option(help="A link to that run.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create the next version of a model."""
    created = sdk.client().create_model_version(
        name,
        name=version_name,
        description=description,
        tags=tag,
        source=source,
        run_id=run_id,
        run_link=run_link,
    )
    _show_version(created, as_json)


@app.command("update")
def update_version(
    name: str,
    version: str,
    stage: Annotated[
        str | None, typer.Option(help=f"Move the version into this stage: {STAGE_CHOICES}.")
    ] = None,
    force: Annotated[bool, force_option("Archive the current holder.")] = False,
    expect_holder: Annotated[
        str | None,
        typer.Option(
            "--expect-holder",
            help="Promote only if --stage is held by this version (name, number or id), or "
            "with 'none' only if it is empty; refused otherwise, changing nothing.",
        ),
    ] = None,
    reason: ReasonOpt = None,
    new_name: Annotated[str | None, typer.Option("--name", help="Rename the version.")] = None,
    description: VersionDescriptionOpt = None,
    add_tag: AddTagsOpt = None,
    remove_tag: RemoveTagsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Change a version's stage (promote), name, description or tags (all at once or none).

    Promoting into a stage another version holds asks first on a terminal, and is refused
    elsewhere unless ``--force`` is given.
    """
    if expect_holder is not None and stage is None:
        raise ValidationError("--expect-holder is a condition on a promotion: pass --stage too.")
    client = sdk.client()
    found = _get_version(client, name, version)

    def apply(forced: bool) -> ModelVersionResponse:
        # by id: the answer to the question must reach this version even if the same
        # command renames it
        return client.update_model_version(
            name,
            found.id,
            stage=stage,
            force=forced,
            reason=reason,
            expected_holder=expect_holder,
            name=new_name,
            description=description,
            add_tags=add_tag,
            remove_tags=remove_tag,
        )

    try:
        updated = apply(force)
    except StageOccupiedError as occupied:
        if not sys.stdin.isatty():
            msg = (
                f"Version '{occupied.holder}' of model '{name}' is in {occupied.stage}; "
                f"pass --force to promote version '{found.name}' anyway and move "
                f"'{occupied.holder}' to archived."
            )
            raise StageOccupiedError(msg, stage=occupied.stage, holder=occupied.holder) from None
        question = (
            f"Stage {occupied.stage} is held by version '{occupied.holder}', which will be "
            f"moved to archived. Promote version '{found.name}' anyway?"
        )
        if not typer.confirm(render.visible(question), default=False):
            render.note("Model version stage update canceled.")
            return
        updated = apply(True)
    _show_version(updated, as_json)


@app.command("delete")
def delete_version(name: str, version: str, yes: YesOpt = False) -> None:
    """Delete one version (its number is never reused; the log keeps its history)."""
    client = sdk.client()
    found = _get_version(client, name, version)
    if not confirm(
        f"Delete version '{found.name}' of model '{name}'?",
        yes=yes,
        refusal=f"Refusing to delete version '{found.name}' of model '{name}' "
        "without confirmation: pass -y.",
    ):
        render.note("Model version deletion canceled.")
        return
    client.delete_model_version(found.id)
    render.note(f"Version '{found.name}' of model '{name}' deleted.")


@app.command("artifacts")
def version_artifacts(
    name: str,
    version: str,
    kind: Annotated[
        str | None,
        typer.Option(help=f"Only links of this kind: {choices(LINK_KINDS)}."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Artifact versions linked to a model version, by kind."""
    if kind is not None and kind not in LINK_KINDS:
        raise ValidationError(f"--kind must be one of {', '.join(LINK_KINDS)}, not '{kind}'.")
    found = _get_version(sdk.client(), name, version)
    groups = {
        DATA: found.data_artifacts,
        MODEL: found.model_artifacts,
        DEPLOYMENT: found.deployment_artifacts,
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


@app.command("runs")
def version_runs(name: str, version: str, as_json: JsonOpt = False) -> None:
    """Runs that produced a model version and runs that consumed it."""
    found = _get_version(sdk.client(), name, version)
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
