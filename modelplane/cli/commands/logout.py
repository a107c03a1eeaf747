"""``modelplane logout``: forget the saved server; commands use the local store again."""

from __future__ import annotations

import typer

from .. import render

app = typer.Typer(add_completion=False)


@app.command("logout")
def logout() -> None:
    """Remove the saved login (MODELPLANE_SERVER_URL, if set, still applies)."""
    from modelplane.backend import login as saved

    if saved.forget():
        render.note("Logged out.")
    else:
        render.note("Not logged in.")
