"""``modelplane webhook ...``: post the log's events to a URL, on the store directly or
through a server with an admin token; the server processes deliver them."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import render, sdk
from ..options import JsonOpt, ReasonOpt
from ..params import WholeNumber

app = typer.Typer(
    name="webhook",
    help="Webhooks: add (the log's events posted to a URL, signed), list, remove, deliveries.",
    no_args_is_help=True,
    add_completion=False,
)


@app.command("add")
def add(
    url: Annotated[str, typer.Argument(help="Where to post: an http:// or https:// URL.")],
    events: Annotated[
        list[str] | None,
        typer.Option(
            "--event",
            "-e",
            help="An event type such as Model.StageChanged (repeatable); default: all (*).",
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", help="Only this model's events (every life of it).")
    ] = None,
    secret: Annotated[
        str | None,
        typer.Option(help="The signing secret (16+ characters); default: one is made and shown."),
    ] = None,
) -> None:
    """Add a webhook: the events appended from now on are posted to URL, one at a time, in log
    order, signed. Prints its id, then a generated secret alone on the last line, once."""
    created = sdk.client().create_webhook(url, events or ["*"], model, secret)
    render.note(f"Webhook added: {', '.join(created.events)} -> {created.url}")
    typer.echo(str(created.id))
    if created.secret is not None:
        render.note("Its signing secret (shown only now):")
        typer.echo(created.secret)


@app.command("list")
def list_webhooks(as_json: JsonOpt = False) -> None:
    """List webhooks (never their secrets), newest first, with how far each was delivered."""
    hooks = sdk.client().list_webhooks()
    if as_json:
        render.print_json(hooks)
        return
    render.table(
        None,
        ("ID", "URL", "EVENTS", "MODEL", "DELIVERED TO", "CREATED", "REMOVED"),
        [
            (
                h.id,
                h.url,
                ", ".join(h.events),
                h.model or "",
                "" if h.position is None else h.position,
                render.when(h.created),
                render.when(h.removed),
            )
            for h in hooks
        ],
    )


@app.command("remove")
def remove(
    webhook_id: Annotated[str, typer.Argument(metavar="ID", help="The webhook's id.")],
    reason: ReasonOpt = None,
) -> None:
    """Remove a webhook: no event is delivered to it after this."""
    sdk.client().delete_webhook(webhook_id, reason)
    render.note(f"Webhook {webhook_id} removed.")


@app.command("deliveries")
def deliveries(
    webhook_id: Annotated[str, typer.Argument(metavar="ID", help="The webhook's id.")],
    limit: Annotated[
        int, typer.Option(click_type=WholeNumber(1, 1000), help="How many, newest first.")
    ] = 50,
    as_json: JsonOpt = False,
) -> None:
    """List the attempts to deliver to a webhook, newest first."""
    attempts = sdk.client().list_webhook_deliveries(webhook_id, limit)
    if as_json:
        render.print_json(attempts)
        return
    render.table(
        None,
        ("AT", "POSITION", "EVENT", "ATTEMPT", "STATUS", "MS", "ERROR", "DELIVERY"),
        [
            (
                render.when(a.at),
                a.position,
                a.event_type,
                a.attempt,
                "" if a.status_code is None else a.status_code,
                f"{a.duration_ms:.0f}",
                a.error or "delivered",
                a.delivery_id,
            )
            for a in attempts
        ],
    )
