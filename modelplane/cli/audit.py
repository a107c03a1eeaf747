"""``modelplane events`` (the raw log) and ``modelplane replay`` (rebuild the read tables)."""

from __future__ import annotations

import time
from typing import Annotated, Any

import typer

from . import render
from .params import WholeNumber, parse_at


def events(
    model: Annotated[
        str | None, typer.Option(help="Only this model's events (every life of the name).")
    ] = None,
    after: Annotated[
        int, typer.Option(click_type=WholeNumber(0), help="Start after this log position.")
    ] = 0,
    limit: Annotated[
        int, typer.Option(click_type=WholeNumber(1, 100_000), help="Events to read per batch.")
    ] = 100,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new events.")
    ] = False,
    wide: Annotated[
        bool,
        typer.Option(
            "--wide", help="Add each event's whole payload, and show the name index events."
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per line, the whole payload.")
    ] = False,
) -> None:
    """Print the event log: position, time, actor, type and a summary of every event.

    The name index events (``ModelName.*``) repeat a registration or deletion next to them
    and are shown with ``--wide`` or ``--json`` only. ``--json`` prints every event with its
    whole payload (without the event store's ``class_version``).
    """
    from modelplane.client import Client

    from .event_summary import Describer, is_index_event, public_payload

    client = Client()
    describer = Describer(client, show_model=model is None)
    position = after
    while True:
        batch = client.list_events(model=model, after=position, limit=limit)
        if as_json:
            for event in batch:
                data = render.plain(event)
                data["payload"] = public_payload(data["payload"])
                render.print_json_line(data)
        else:
            shown = [e for e in batch if wide or not is_index_event(e)]
            rows = [
                (
                    e.position,
                    render.when(e.timestamp),
                    describer.actor(e, batch),
                    e.type,
                    describer.summary(e),
                    *((render.payload(public_payload(e.payload)),) if wide else ()),
                )
                for e in shown
            ]
            if follow:
                for row in rows:
                    print("\t".join(render.visible(cell) for cell in row), flush=True)
            else:
                _event_table(rows, wide)
        if batch:
            position = batch[-1].position
        if not follow:
            return
        if len(batch) < limit:
            time.sleep(0.5)


def _event_table(rows: list[tuple[Any, ...]], wide: bool) -> None:
    """The events as a table; below 120 columns, time and type take two short lines each.

    At 80 columns that leaves the summary about half the width, so an ordinary event takes
    one or two lines.
    """
    from rich.text import Text

    narrow = render.console().width < 120
    columns = ["POSITION", "TIME", "ACTOR", "TYPE", "SUMMARY"] + (["PAYLOAD"] if wide else [])

    def cells(row: tuple[Any, ...]) -> tuple[Any, ...]:
        position, moment, actor, kind, *rest = row
        if narrow:
            moment = Text(moment.replace(" ", "\n", 1))
            prefix, dot, name = kind.partition(".")
            if dot:
                kind = Text(f"{render.visible(prefix)}.\n{render.visible(name)}")
        return (position, moment, actor, kind, *rest)

    render.table(None, columns, [cells(row) for row in rows], compact=True)


def replay(
    until: Annotated[
        str | None, typer.Option(help="Stop at this log position or ISO time (with --into).")
    ] = None,
    into: Annotated[
        str | None,
        typer.Option(
            help="Build the tables in this new SQLite file instead of the live ones "
            "(never the store itself; an existing file only if a replay wrote it, "
            "with --overwrite)."
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace the replay output already at --into.")
    ] = False,
) -> None:
    """Rebuild the read tables from the log, with a progress bar (on stderr)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from modelplane.client import Client

    bar = Progress(
        TextColumn("replaying"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        transient=False,
        console=render.console(stderr=True),
    )
    task = bar.add_task("replay", total=None)

    def progress(done: int, total: int) -> None:
        # started on the first report, after the target was checked: a refusal prints
        # its one error line and no bar
        if not bar.live.is_started:
            bar.start()
        bar.update(task, completed=done, total=total)

    try:
        result = Client().rebuild_projections(
            until=parse_at(until), into=into, progress=progress, overwrite=overwrite
        )
    finally:
        if bar.live.is_started:
            bar.stop()
    render.note(
        f"Replayed {result.events} events up to position {result.position} into "
        f"{result.target} in {result.seconds:.2f}s ({result.events_per_second:,.0f} events/s)."
    )
