"""``modelplane model tag ...``: set and delete a model's key-value tags (MLflow's tags, apart
from the ``--tag`` labels; ``model describe`` shows both)."""

from __future__ import annotations

import typer

from ... import render, sdk

app = typer.Typer(
    name="tag",
    help="Key-value tags of a model (MLflow's tags): set, delete.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command("set")
def set_tag(name: str, key: str, value: str) -> None:
    """Set KEY to VALUE on a model (an empty VALUE is a value)."""
    sdk.client().set_model_tag(name, key, value)
    render.note(f"Tag '{key}' set on model '{name}'.")


@app.command("delete")
def delete_tag(name: str, key: str) -> None:
    """Delete a model's tag KEY."""
    sdk.client().delete_model_tag(name, key)
    render.note(f"Tag '{key}' deleted from model '{name}'.")
