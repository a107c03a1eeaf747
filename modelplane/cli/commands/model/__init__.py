"""``modelplane model ...``: register, list, describe, update, delete a model, its history.

``modelplane model version ...``, ``model alias ...`` and ``model tag ...`` are the
``version``, ``alias`` and ``tag`` modules beside this one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from modelplane.domain.model_card import DESCRIPTIVE_FIELDS

from ... import render, sdk
from ...confirm import confirm
from ...lazy_group import lazy_group
from ...options import (
    AddTagsOpt,
    CursorOpt,
    JsonOpt,
    ModelCard,
    PageOpt,
    ReasonOpt,
    RemoveTagsOpt,
    SizeOpt,
    TagsOpt,
    YesOpt,
    card_options,
)
from ...params import WholeNumber

if TYPE_CHECKING:
    from modelplane.client import Client
    from modelplane.responses import ModelResponse

app = typer.Typer(
    name="model",
    help="Register, list, describe, update and delete models.",
    no_args_is_help=True,
    add_completion=False,
    cls=lazy_group(__name__, "version", "alias", "tag"),
)

#: How ``model describe`` labels a model-card field where the field's name is not the label.
_CARD_LABELS = {"use_cases": "use cases", "trade_offs": "trade-offs"}


def _show_model(model: ModelResponse, as_json: bool) -> None:
    if as_json:
        render.print_json(model)
        return
    card: list[tuple[str, Any]] = []
    for field in DESCRIPTIVE_FIELDS:
        card.append((_CARD_LABELS.get(field, field), getattr(model, field)))
        if field == "description":  # tags have always followed the description
            card.append(("tags", ", ".join(model.tags)))
    render.fields(
        f"Model {model.name}",
        [
            ("id", model.id),
            ("name", model.name),
            ("latest version", model.latest_version_name),
            *card,
            ("aliases", ", ".join(f"{a}: {n}" for a, n in model.aliases.items())),
            *((f"tag: {k}", v) for k, v in model.key_value_tags.items()),
            ("created", render.when(model.created)),
            ("updated", render.when(model.updated)),
            ("created by", model.user),
        ],
    )


@app.command("register")
@card_options
def register(name: str, card: ModelCard, tag: TagsOpt = None, as_json: JsonOpt = False) -> None:
    """Register a new model."""
    _show_model(sdk.client().create_model(name, tags=tag, **card), as_json)


@app.command("list")
def list_models(
    name: Annotated[str | None, typer.Option(help="Only names containing this.")] = None,
    tag: Annotated[str | None, typer.Option(help="Only models with this tag.")] = None,
    page: PageOpt = 1,
    size: SizeOpt = 50,
    as_json: JsonOpt = False,
    cursor: CursorOpt = None,
) -> None:
    """List live models."""
    result = sdk.client().list_models(name=name, tag=tag, page=page, size=size, cursor=cursor)
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
    _show_model(sdk.client().get_model(name), as_json)


@app.command("update")
@card_options
def update(
    name: str,
    *,
    new_name: Annotated[str | None, typer.Option("--name", help="Rename the model.")] = None,
    card: ModelCard,
    add_tag: AddTagsOpt = None,
    remove_tag: RemoveTagsOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Change a model's fields and tags."""
    model = sdk.client().update_model(
        name, name=new_name, add_tags=add_tag, remove_tags=remove_tag, **card
    )
    _show_model(model, as_json)


@app.command("delete")
def delete(name: str, yes: YesOpt = False, reason: ReasonOpt = None) -> None:
    """Delete a model and all its versions (the log keeps their history)."""
    client = sdk.client()
    model = client.get_model(name)
    if not confirm(
        f"Delete model '{model.name}' and all its versions?",
        yes=yes,
        refusal=f"Refusing to delete model '{model.name}' without confirmation: pass -y.",
    ):
        render.note("Model deletion canceled.")
        return
    client.delete_model(model.id, reason=reason)
    render.note(f"Model '{model.name}' deleted.")


@app.command("history")
def history(
    name: str,
    as_json: JsonOpt = False,
    after: Annotated[
        int | None,
        typer.Option(click_type=WholeNumber(0), help="Only changes after this log position."),
    ] = None,
    limit: Annotated[
        int | None,
        typer.Option(
            click_type=WholeNumber(1, 100_000),
            help="At most this many changes; the next page is --after the last POSITION.",
        ),
    ] = None,
) -> None:
    """Every stage change of every version, oldest first, one table per life of the name.

    A name deleted and registered again names two models (two lives) whose version numbers
    both start at 1: the lives are told apart, each with when it was registered and deleted.
    A version that left its stage because it or its model was deleted shows ``deleted``.
    """
    client = sdk.client()
    entries = client.get_stage_history(name, after=after, limit=limit)
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
                render.stage(e.previous_stage),
                render.stage(e.stage),
                e.displaced_version,
                e.actor,
                e.reason,
            )
            for e in entries
            if str(e.model_id) == life["id"]
        ]
        render.table(title, columns, rows)


def _lives(client: Client, name: str, seen: set[Any]) -> list[dict[str, Any]]:
    """Every model that had this name (or this id), oldest first, with its dates.

    Models whose rows cannot be read (none expected) still get a life if history names them.
    A deleted model is never changed again: its last update is its deletion.
    """
    lives = [
        {
            "id": str(model.id),
            "name": model.name,
            "created": model.created,
            "deleted": model.deleted,
            "deleted_at": model.updated if model.deleted else None,
        }
        for model in client.backend.model_lives(name)
    ]
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
