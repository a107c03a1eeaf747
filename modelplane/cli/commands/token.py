"""``modelplane token ...``: API tokens for a server, on the store directly or through a
server with an admin token."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import render, sdk
from ..options import JsonOpt

app = typer.Typer(
    name="token",
    help="API tokens: create (shown once), list, revoke.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command("create")
def create(
    name: Annotated[
        str, typer.Option("--name", help="What the token is for; events record it as their actor.")
    ],
    role: Annotated[
        str, typer.Option("--role", help="read, write (includes promote) or admin.")
    ] = "read",
) -> None:
    """Create a token; the token is printed alone on the last line of stdout, once."""
    created = sdk.client().backend.create_token(name, role)
    render.note(f"Token '{created.name}' ({created.role}) created; it is shown only now.")
    typer.echo(created.token)


@app.command("list")
def list_tokens(as_json: JsonOpt = False) -> None:
    """List tokens (never their secrets), newest first."""
    tokens = sdk.client().backend.list_tokens()
    if as_json:
        render.print_json(tokens)
        return
    render.table(
        None,
        ("NAME", "ROLE", "CREATED", "BY", "REVOKED"),
        [
            (t.name, t.role, render.when(t.created), t.created_by, render.when(t.revoked))
            for t in tokens
        ],
    )


@app.command("revoke")
def revoke(name: Annotated[str, typer.Argument(help="The token's name.")]) -> None:
    """Revoke a token: every server worker refuses it from its next request."""
    sdk.client().backend.revoke_token(name)
    render.note(f"Token '{name}' revoked.")
