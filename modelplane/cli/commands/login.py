"""``modelplane login URL --token T``: point the SDK and the CLI at a server."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import render

app = typer.Typer(add_completion=False)


@app.command("login")
def login(
    url: Annotated[str, typer.Argument(help="The server, e.g. http://127.0.0.1:8237.")],
    token: Annotated[str, typer.Option("--token", help="An API token (modelplane token create).")],
) -> None:
    """Check the token against the server, then save both (0600) for later commands."""
    from modelplane.backend import login as saved
    from modelplane.backend.http import HttpBackend

    who = HttpBackend(url.rstrip("/"), token)
    name = who.actor
    path = saved.save(url, token)
    render.note(f"Logged in to {url.rstrip('/')} as '{name}' (saved in {path}).")
