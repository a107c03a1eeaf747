"""``modelplane model alias ...``: name versions by aliases (``champion``), move and drop
them, see which version held one when, and who moved it."""

from __future__ import annotations

from typing import Annotated

import typer

from ... import render, sdk
from ...options import AtOpt, JsonOpt, ReasonOpt
from ...params import parse_at, version_selector

app = typer.Typer(
    name="alias",
    help="Aliases of a model's versions: set (or move), delete, list, history.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command("set")
def set_alias(
    name: str, version: str, alias: str, reason: ReasonOpt = None, as_json: JsonOpt = False
) -> None:
    """Point ALIAS at a version (VERSION: a name, number, id or stage), moving it from the
    version holding it."""
    found = sdk.client().set_model_version_alias(
        name, version_selector(version), alias, reason=reason
    )
    if as_json:
        render.print_json(found)
        return
    render.note(f"Alias '{alias}' of model '{name}' names version '{found.name}'.")


@app.command("delete")
def delete_alias(name: str, alias: str, reason: ReasonOpt = None) -> None:
    """Drop ALIAS (the versions stay as they are)."""
    sdk.client().delete_model_version_alias(name, alias, reason=reason)
    render.note(f"Alias '{alias}' of model '{name}' deleted.")


@app.command("list")
def list_aliases(name: str, at: AtOpt = None, as_json: JsonOpt = False) -> None:
    """Each alias and the version it names (with --at: as of then)."""
    found = sdk.client().list_model_aliases(name, at=parse_at(at))
    if as_json:
        render.print_json({alias: version for alias, version in found.items()})
        return
    render.table(
        f"Aliases of {name}",
        ("ALIAS", "VERSION", "NUMBER", "STAGE"),
        [(a, v.name, v.number, render.stage(v.stage)) for a, v in found.items()],
    )


@app.command("history")
def alias_history(
    name: str,
    alias: Annotated[str | None, typer.Option(help="Only this alias.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Every set, move and removal of the aliases, oldest first: who moved which, when, why.

    FROM and TO are version numbers; TO is ``-`` when the alias was removed (a deleted
    version drops its aliases, saying so in REASON).
    """
    entries = sdk.client().get_alias_history(name, alias=alias)
    if as_json:
        render.print_json(entries)
        return
    render.table(
        f"Alias history of {name}",
        ("POSITION", "TIME", "ALIAS", "FROM", "TO", "ACTOR", "REASON"),
        [
            (
                e.position,
                render.when(e.timestamp),
                e.alias,
                "-" if e.previous_version_number is None else e.previous_version_number,
                "-" if e.version_number is None else e.version_number,
                e.actor,
                e.reason,
            )
            for e in entries
        ],
    )
