"""``modelplane server start``: serve the registry over HTTP (FastAPI under uvicorn)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from .. import render

app = typer.Typer(
    name="server",
    help="The HTTP server: start it.",
    no_args_is_help=True,
    add_completion=False,
)

#: where the admin token a server made for itself is kept (0600), so ``make run`` can show it
ADMIN_TOKEN_FILE = "server-admin-token"
#: request lines may carry names of up to 100,000 characters, percent-encoded
MAX_REQUEST_LINE = 1 << 20


@app.callback()
def _group() -> None:
    # a group with one command: typer would otherwise make ``server`` that command itself
    pass


@app.command("start")
def start(
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.", min=1, max=65535)] = 8237,
    store_url: Annotated[
        str | None,
        typer.Option(
            help="The store (default: MODELPLANE_STORE_URL, else SQLite in MODELPLANE_HOME)."
        ),
    ] = None,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1, max=64)] = 1,
) -> None:
    """Serve the registry; on a store without tokens, make an admin token and show it once."""
    import uvicorn

    from modelplane import config

    if store_url:
        os.environ["MODELPLANE_STORE_URL"] = store_url
    url = config.store_url()
    token_file, token = bootstrap_admin_token(url)
    shown = f"http://{host}:{port}"
    render.note(f"modelplane serving {_public(url)} on {shown} (API docs: {shown}/docs)")
    if token is not None:
        render.note(f"No tokens existed: created admin token (also kept in {token_file}):")
        typer.echo(token)
    elif token_file.exists():
        render.note(f"Admin token: in {token_file}")
    uvicorn.run(
        "modelplane.api.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
        # h11 whether or not httptools is installed: its limit on a request line and headers
        # is what stops an endless URL or header from growing a worker's memory
        http="h11",
        h11_max_incomplete_event_size=MAX_REQUEST_LINE,
    )


def bootstrap_admin_token(store_url: str) -> tuple[Path, str | None]:
    """An admin token on a store with no active token (else None), kept in a 0600 file."""
    from modelplane import config
    from modelplane.backend.local import LocalBackend
    from modelplane.store_handle import Store

    path = config.writable_home() / ADMIN_TOKEN_FILE
    backend = LocalBackend(Store(store_url), actor="modelplane-server")
    try:
        if any(t.revoked is None for t in backend.list_tokens()):
            return path, None
        created = backend.create_token("admin", "admin")
    finally:
        backend.store.close()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(created.token + "\n")
    os.chmod(path, 0o600)
    return path, created.token


def _public(url: str) -> str:
    from modelplane.backend.local import _PASSWORD

    return _PASSWORD.sub(r"\g<head>:***@", url)
