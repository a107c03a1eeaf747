"""``modelplane model ...`` and ``modelplane model version ...``."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Annotated, Optional

import typer

from domain.errors import StageOccupiedError, ValidationError

from . import render

app = typer.Typer(help="Register, list, describe, update and delete models.", no_args_is_help=True)
versions = typer.Typer(
    help="Versions of a model: list, describe, create, update (stage), delete.",
    no_args_is_help=True,
)
app.add_typer(versions, name="version")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
TagsOpt = Annotated[Optional[list[str]], typer.Option("--tag", "-t", help="A tag (repeatable).")]  # noqa: UP045


def _client():  # type: ignore[no-untyped-def]
    from modelplane.client import Client

    return Client()


def _confirm(question: str, yes: bool, refusal: str) -> bool:
    """Ask on a terminal; without one, refuse unless ``-y`` was given."""
    if yes:
        return True
    if not sys.stdin.isatty():
        raise ValidationError(refusal)
    return typer.confirm(question, default=False)


def parse_at(value: str | None) -> datetime | int | None:
    """A log position (digits) or an ISO 8601 time."""
    if value is None:
        return None
    if value.isdigit():
        return int(value)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        msg = f"'{value}' is neither a log position nor an ISO 8601 time (2026-11-26T09:15:00)."
        raise ValidationError(msg) from None
    return moment


def _show_model(model, as_json: bool) -> None:  # type: ignore[no-untyped-def]
    if as_json:
        render.print_json(model)
        return
    render.fields(
        f"Model {model.name}",
        [
            ("id", model.id),
            ("name", model.name),
            ("latest version", model.latest_version_name),
            ("license", model.license),
            ("description", model.description),
            ("tags", ", ".join(model.tags)),
            ("audience", model.audience),
            ("use cases", model.use_cases),
            ("limitations", model.limitations),
            ("trade-offs", model.trade_offs),
            ("ethics", model.ethics),
            ("created", render.when(model.created)),
            ("updated", render.when(model.updated)),
            ("created by", model.user),
        ],
    )


def _show_version(version, as_json: bool) -> None:  # type: ignore[no-untyped-def]
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
        ("stage", version.stage.value),
        ("description", version.description),
        ("tags", ", ".join(version.tags)),
        ("created", render.when(version.created)),
        ("updated", render.when(version.updated)),
        ("created by", version.user),
    ]
    pairs += [(f"metadata: {k}", render.plain(v.value)) for k, v in metadata.items()]
    render.fields(f"Model {version.model_name} version {version.name}", pairs)


@app.command("register")
def register(
    name: str,
    license: Annotated[Optional[str], typer.Option(help="License of the model.")] = None,  # noqa: UP045
    description: Annotated[Optional[str], typer.Option(help="What the model is for.")] = None,  # noqa: UP045
    tag: TagsOpt = None,
    audience: Annotated[Optional[str], typer.Option()] = None,  # noqa: UP045
    use_cases: Annotated[Optional[str], typer.Option("--use-cases")] = None,  # noqa: UP045
    limitations: Annotated[Optional[str], typer.Option()] = None,  # noqa: UP045
    trade_offs: Annotated[Optional[str], typer.Option("--trade-offs")] = None,  # noqa: UP045
    ethics: Annotated[Optional[str], typer.Option()] = None,  # noqa: UP045
    as_json: JsonOpt = False,
) -> None:
    """Register a new model."""
    model = _client().create_model(
        name,
        license=license,
        description=description,
        tags=tag,
        audience=audience,
        use_cases=use_cases,
        limitations=limitations,
        trade_offs=trade_offs,
        ethics=ethics,
    )
    _show_model(model, as_json)


@app.command("list")
def list_models(
    name: Annotated[Optional[str], typer.Option(help="Only names containing this.")] = None,  # noqa: UP045
    tag: Annotated[Optional[str], typer.Option(help="Only models with this tag.")] = None,  # noqa: UP045
    page: Annotated[int, typer.Option(min=1)] = 1,
    size: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List live models."""
    result = _client().list_models(name=name, tag=tag, page=page, size=size)
    if as_json:
        render.print_json(result)
        return
    render.table(
        None,
        ("ID", "NAME", "LATEST VERSION", "TAGS", "UPDATED"),
        [
            (m.id, m.name, m.latest_version_name, ", ".join(m.tags), render.when(m.updated))
            for m in result
        ],
    )
    render.page_note(result, "model")


@app.command("describe")
def describe(name: str, as_json: JsonOpt = False) -> None:
    """Show one model."""
    _show_model(_client().get_model(name), as_json)


@app.command("update")
def update(
    name: str,
    new_name: Annotated[Optional[str], typer.Option("--name", help="Rename the model.")] = None,  # noqa: UP045
    license: Annotated[Optional[str], typer.Option()] = None,  # noqa: UP045
    description: Annotated[Optional[str], typer.Option()] = None,  # noqa: UP045
    audience: Annotated[Optional[str], typer.Option()] = None,  # noqa: UP045
    use_cases: Annotated[Optional[str], typer.Option("--use-cases")] = None,  # noqa: UP045
    limitations: Annotated[Optional[str], typer.Option()] = None,  # noqa: UP045
    trade_offs: Annotated[Optional[str], typer.Option("--trade-offs")] = None,  # noqa: UP045
    ethics: Annotated[Optional[str], typer.Option()] = None,  # noqa: UP045
    add_tag: Annotated[Optional[list[str]], typer.Option("--add-tag")] = None,  # noqa: UP045
    remove_tag: Annotated[Optional[list[str]], typer.Option("--remove-tag")] = None,  # noqa: UP045
    as_json: JsonOpt = False,
) -> None:
    """Change a model's fields and tags."""
    model = _client().update_model(
        name,
        name=new_name,
        license=license,
        description=description,
        audience=audience,
        use_cases=use_cases,
        limitations=limitations,
        trade_offs=trade_offs,
        ethics=ethics,
        add_tags=add_tag,
        remove_tags=remove_tag,
    )
    _show_model(model, as_json)


@app.command("delete")
def delete(
    name: str,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
    reason: Annotated[Optional[str], typer.Option(help="Why (kept in the log).")] = None,  # noqa: UP045
) -> None:
    """Delete a model and all its versions (the log keeps their history)."""
    client = _client()
    model = client.get_model(name)
    if not _confirm(
        f"Delete model '{model.name}' and all its versions?",
        yes,
        f"Refusing to delete model '{model.name}' without confirmation: pass -y.",
    ):
        render.note("Model deletion canceled.")
        return
    client.delete_model(model.id, reason=reason)
    render.note(f"Model '{model.name}' deleted.")


@app.command("history")
def history(name: str, as_json: JsonOpt = False) -> None:
    """Every stage change of every version, oldest first (earlier lives of the name too)."""
    entries = _client().get_stage_history(name)
    if as_json:
        render.print_json(entries)
        return
    render.table(
        f"Stage history of {name}",
        ("POSITION", "TIME", "VERSION", "FROM", "TO", "DISPLACED", "ACTOR", "REASON"),
        [
            (
                e.position,
                render.when(e.timestamp),
                e.version,
                e.previous_stage.value,
                e.stage.value,
                e.displaced_version,
                e.actor,
                e.reason,
            )
            for e in entries
        ],
    )


# ----------------------------------------------------------------------- versions


@versions.command("list")
def list_versions(
    name: str,
    stage: Annotated[Optional[str], typer.Option(help="Only versions in this stage.")] = None,  # noqa: UP045
    tag: Annotated[Optional[str], typer.Option()] = None,  # noqa: UP045
    page: Annotated[int, typer.Option(min=1)] = 1,
    size: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List a model's versions, newest first."""
    result = _client().list_model_versions(name, stage=stage, tag=tag, page=page, size=size)
    if as_json:
        render.print_json(result)
        return
    render.table(
        f"Versions of {name}",
        ("ID", "NUMBER", "NAME", "STAGE", "TAGS", "CREATED"),
        [
            (v.id, v.number, v.name, v.stage.value, ", ".join(v.tags), render.when(v.created))
            for v in result
        ],
    )
    render.page_note(result, "version")


@versions.command("describe")
def describe_version(
    name: str,
    version: str,
    at: Annotated[Optional[str], typer.Option(help="As of a log position or ISO time.")] = None,  # noqa: UP045
    as_json: JsonOpt = False,
) -> None:
    """Show one version (VERSION: a name, number, id, or stage such as production)."""
    _show_version(_client().get_model_version(name, version, at=parse_at(at)), as_json)


@versions.command("create")
def create_version(
    name: str,
    version_name: Annotated[str | None, typer.Option("--name", help="Default: the number.")] = None,
    description: Annotated[Optional[str], typer.Option()] = None,  # noqa: UP045
    tag: TagsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Create the next version of a model."""
    created = _client().create_model_version(
        name, name=version_name, description=description, tags=tag
    )
    _show_version(created, as_json)


@versions.command("update")
def update_version(
    name: str,
    version: str,
    stage: Annotated[
        str | None, typer.Option(help="none, staging, production or archived.")
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", "-f", help="Archive the current holder.")
    ] = False,
    reason: Annotated[Optional[str], typer.Option(help="Why (kept in the history).")] = None,  # noqa: UP045
    new_name: Annotated[Optional[str], typer.Option("--name", help="Rename the version.")] = None,  # noqa: UP045
    description: Annotated[Optional[str], typer.Option()] = None,  # noqa: UP045
    add_tag: Annotated[Optional[list[str]], typer.Option("--add-tag")] = None,  # noqa: UP045
    remove_tag: Annotated[Optional[list[str]], typer.Option("--remove-tag")] = None,  # noqa: UP045
    as_json: JsonOpt = False,
) -> None:
    """Change a version's stage (promote), name, description or tags."""
    client = _client()

    def apply(forced: bool):  # type: ignore[no-untyped-def]
        return client.update_model_version(
            name,
            version,
            stage=stage,
            force=forced,
            reason=reason,
            name=new_name,
            description=description,
            add_tags=add_tag,
            remove_tags=remove_tag,
        )

    try:
        updated = apply(force)
    except StageOccupiedError as occupied:
        if not sys.stdin.isatty():
            raise
        question = (
            f"Stage {occupied.stage} is held by version '{occupied.holder}', which will be "
            f"moved to archived. Promote version '{version}' anyway?"
        )
        if not typer.confirm(question, default=False):
            render.note("Model version stage update canceled.")
            return
        updated = apply(True)
    _show_version(updated, as_json)


@versions.command("delete")
def delete_version(
    name: str,
    version: str,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Delete one version (its number is never reused; the log keeps its history)."""
    client = _client()
    found = client.get_model_version(name, version)
    if not _confirm(
        f"Delete version '{found.name}' of model '{name}'?",
        yes,
        f"Refusing to delete version '{found.name}' of model '{name}' "
        "without confirmation: pass -y.",
    ):
        render.note("Model version deletion canceled.")
        return
    client.delete_model_version(found.id)
    render.note(f"Version '{found.name}' of model '{name}' deleted.")
