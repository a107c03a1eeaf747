"""``modelplane model version tag ...``: set and delete a version's key-value tags (MLflow's
tags; ``model version describe`` shows them)."""

from __future__ import annotations

import typer

from .... import render, sdk

app = typer.Typer(
    name="tag",
    help="Key-value tags of a version (MLflow's tags): set, delete.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command("set")
def set_tag(name: str, version: str, key: str, value: str) -> None:
    """Set KEY to VALUE on a version (VERSION: a name, number, id or stage)."""
    sdk.client().set_model_version_tag(name, version, key, value)
    render.note(f"Tag '{key}' set on version '{version}' of model '{name}'.")


@app.command("delete")
def delete_tag(name: str, version: str, key: str) -> None:
    """Delete a version's tag KEY."""
    sdk.client().delete_model_version_tag(name, version, key)
    render.note(f"Tag '{key}' deleted from version '{version}' of model '{name}'.")
