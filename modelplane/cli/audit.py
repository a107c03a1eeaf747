"""``modelplane events`` (the raw log) and ``modelplane replay`` (rebuild the read tables)."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from . import render
from .models import parse_at


def events(
    model: Annotated[
        str | None, typer.Option(help="Only this model's events (every life of the name).")
    ] = None,
    after: Annotated[int, typer.Option(min=0, help="Start after this log position.")] = 0,
    limit: Annotated[int, typer.Option(min=1, max=100_000)] = 100,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new events.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Print the event log: position, type, time, actor and payload of every event."""
    from modelplane.client import Client

    client = Client()
    position = after
    while True:
        batch = client.list_events(model=model, after=position, limit=limit)
        if as_json or follow:
            for event in batch:
                if as_json:
                    render.print_json_line(event)
                else:
                    fields = (
                        event.position,
                        render.when(event.timestamp),
                        event.type,
                        event.actor or "",
                        render.payload(event.payload),
                    )
                    print("\t".join(map(str, fields)), flush=True)
        else:
            render.table(
                None,
                ("POSITION", "TIME", "TYPE", "ACTOR", "PAYLOAD"),
                [
                    (
                        e.position,
                        render.when(e.timestamp),
                        e.type,
                        e.actor,
                        render.payload(e.payload),
                    )
                    for e in batch
                ],
            )
        if batch:
            position = batch[-1].position
        if not follow:
            return
        if len(batch) < limit:
            time.sleep(0.5)


def replay(
    until: Annotated[
        str | None, typer.Option(help="Stop at this log position or ISO time (with --into).")
    ] = None,
    into: Annotated[
        str | None,
        typer.Option(help="Build the tables in this SQLite file instead of the live ones."),
    ] = None,
) -> None:
    """Rebuild the read tables from the log, with a progress bar."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from modelplane.client import Client

    with Progress(
        TextColumn("replaying"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=False,
    ) as bar:
        task = bar.add_task("replay", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = Client().rebuild_projections(until=parse_at(until), into=into, progress=progress)
    render.note(
        f"Replayed {result.events} events up to position {result.position} into "
        f"{result.target} in {result.seconds:.2f}s ({result.events_per_second:,.0f} events/s)."
    )
