"""``modelplane model ...`` and ``modelplane model version ...``."""

from __future__ import annotations

import shlex
import sys
from typing import Annotated, Any, Optional

import typer

from modelplane.domain.errors import StageOccupiedError, ValidationError

from . import render
from .params import AT_HELP, MAX_PAGE, WholeNumber, parse_at, version_selector

app = typer.Typer(help="Register, list, describe, update and delete models.", no_args_is_help=True)
versions = typer.Typer(
    help="Versions of a model: list, describe, create, update (stage), delete.",
    no_args_is_help=True,
)
app.add_typer(versions, name="version")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
PageOpt = Annotated[int, typer.Option(click_type=WholeNumber(1, MAX_PAGE), help="Page number.")]
SizeOpt = Annotated[int, typer.Option(click_type=WholeNumber(1, 10_000), help="Items per page.")]
TagsOpt = Annotated[Optional[list[str]], typer.Option("--tag", "-t", help="A tag (repeatable).")]  # noqa: UP045


def _client():  # type: ignore[no-untyped-def]
    from modelplane.client import Client

    return Client()


def _confirm(question: str, yes: bool, refusal: str) -> bool:
    """Ask on a terminal; without one, refuse unless ``-y`` was given.

    The question quotes names, so it is printed with their control characters made visible.
    """
    if yes:
        return True
    if not sys.stdin.isatty():
        raise ValidationError(refusal)
    return typer.confirm(render.visible(question), default=False)


def _get_version(client: Any, name: str, version: str, at: Any = None) -> Any:
    """``client.get_model_version`` for a VERSION argument, refused in CLI words.

    ``none`` and ``archived`` may be held by several versions, so they select no single one;
    the SDK's message names its own call, this one the command that lists them.
    """
    from modelplane.domain import stages
    from modelplane.projections.queries import stages_selector

    stage = stages_selector(version_selector(version))
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
        ("stage", _stage_text(version.stage)),
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
    page: PageOpt = 1,
    size: SizeOpt = 50,
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
    """Every stage change of every version, oldest first, one table per life of the name.

    A name deleted and registered again names two models (two lives) whose version numbers
    both start at 1: the lives are told apart, each with when it was registered and deleted.
    A version that left its stage because it or its model was deleted shows ``deleted``.
    """
    client = _client()
    entries = client.get_stage_history(name)
    lives = _lives(client, name, {e.model_id for e in entries})
    number = {life["id"]: index for index, life in enumerate(lives, start=1)}
    if as_json:
        render.print_json(
            [dict(render.plain(e), life=number.get(str(e.model_id))) for e in entries]
        )
        return
    columns = ("POSITION", "TIME", "VERSION", "FROM", "TO", "DISPLACED", "ACTOR", "REASON")
    title: str | None = f"Stage history of {name}"
    if len(lives) > 1:
        render.line(f"Stage history of {name}: {len(lives)} models had this name.")
        title = None
    for index, life in enumerate(lives, start=1):
        if len(lives) > 1:
            render.line(f"\nLife {index} of {len(lives)}: {_life_text(life, name)}")
        rows = [
            (
                e.position,
                render.when(e.timestamp),
                e.version,
                _stage_text(e.previous_stage),
                _stage_text(e.stage),
                e.displaced_version,
                e.actor,
                e.reason,
            )
            for e in entries
            if str(e.model_id) == life["id"]
        ]
        render.table(title, columns, rows)


def _stage_text(stage: object) -> str:
    """A stage as shown: a ``ModelStages`` member or a plain string such as ``deleted``."""
    return str(getattr(stage, "value", stage))


def _lives(client: Any, name: str, seen: set[Any]) -> list[dict[str, Any]]:
    """Every model that had this name (or this id), oldest first, with its dates.

    Models whose rows cannot be read (none expected) still get a life if history names them.
    """
    from modelplane.projections import queries

    with client._store.read() as conn:
        ids = queries.model_ids_ever_named(conn, name)
        lives = []
        for model_id in ids:
            row = queries.model_row(conn, model_id, deleted_ok=True)
            lives.append(
                {
                    "id": str(row["id"]),
                    "name": row["name"],
                    "created": row["created"],
                    "deleted": bool(row["deleted"]),
                    "deleted_at": row["deleted_at"],
                }
            )
    known = {life["id"] for life in lives}
    lives += [
        {"id": str(i), "name": None, "created": None, "deleted": False, "deleted_at": None}
        for i in sorted(map(str, seen))
        if str(i) not in known
    ]
    return lives


def _life_text(life: dict[str, Any], name: str) -> str:
    """``registered 2026-11-26 09:15:00, deleted 2026-11-27 10:00:00 (model 1a2b3c4d)``."""
    parts = []
    if life["created"] is not None:
        parts.append(f"registered {render.when(life['created'])}")
    if life["deleted"]:
        parts.append(f"deleted {render.when(life['deleted_at'])}")
    elif life["name"] is not None and life["name"] != name:
        parts.append(f"now named '{life['name']}'")
    elif life["name"] is not None:
        parts.append("current")
    return f"{', '.join(parts)} (model {life['id'][:8]})"


# ----------------------------------------------------------------------- versions


@versions.command("list")
def list_versions(
    name: str,
    stage: Annotated[Optional[str], typer.Option(help="Only versions in this stage.")] = None,  # noqa: UP045
    tag: Annotated[Optional[str], typer.Option()] = None,  # noqa: UP045
    page: PageOpt = 1,
    size: SizeOpt = 50,
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
            (
                v.id,
                v.number,
                v.name,
                _stage_text(v.stage),
                ", ".join(v.tags),
                render.when(v.created),
            )
            for v in result
        ],
    )
    render.page_note(result, "version")


@versions.command("describe")
def describe_version(
    name: str,
    version: str,
    at: Annotated[Optional[str], typer.Option(help=AT_HELP)] = None,  # noqa: UP045
    as_json: JsonOpt = False,
) -> None:
    """Show one version (VERSION: a name, number, id, or stage such as production)."""
    _show_version(_get_version(_client(), name, version, at=parse_at(at)), as_json)


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
    """Change a version's stage (promote), name, description or tags (all at once or none).

    Promoting into a stage another version holds asks first on a terminal, and is refused
    elsewhere unless ``--force`` is given.
    """
    client = _client()
    found = _get_version(client, name, version)

    def apply(forced: bool):  # type: ignore[no-untyped-def]
        # by id: the answer to the question must reach this version even if the same
        # command renames it
        return client.update_model_version(
            name,
            found.id,
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


@versions.command("delete")
def delete_version(
    name: str,
    version: str,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask.")] = False,
) -> None:
    """Delete one version (its number is never reused; the log keeps its history)."""
    client = _client()
    found = _get_version(client, name, version)
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
