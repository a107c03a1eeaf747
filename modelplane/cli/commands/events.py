"""``modelplane events``: the raw event log, summarised or whole."""

from __future__ import annotations

from collections import deque
from typing import Annotated, Any

import typer

from .. import render, sdk
from ..options import ModelFilterOpt
from ..params import WholeNumber

app = typer.Typer(add_completion=False)


@app.command("events")
def events(
    model: ModelFilterOpt = None,
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
            "--wide",
            help="Add each event's whole payload, and show the write side's bookkeeping events.",
        ),
    ] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per line, the whole payload.")
    ] = False,
) -> None:
    """Print the event log: position, time, actor, type and a summary of every event.

    The write side's bookkeeping events (the name indexes ``ModelName.*`` and
    ``VersionName.*``, and ``ModelVersion.StageSet``) repeat an event next to them and are
    shown with ``--wide`` or ``--json`` only. ``--json`` prints every event with its
    whole payload (without the event store's ``class_version``). ``--follow`` then prints
    each new event as it is appended (remotely from the server's event stream, resuming
    after a dropped connection) until Ctrl-C.
    """
    from ..event_summary import Describer, is_bookkeeping, public_payload

    client = sdk.client()
    describer = Describer(client.backend, show_model=model is None)

    def show(batch: list[Any], context: list[Any] | None = None) -> None:
        if as_json:
            for event in batch:
                data = render.plain(event)
                data["payload"] = public_payload(data["payload"])
                render.print_json_line(data)
            return
        shown = [e for e in batch if wide or not is_bookkeeping(e)]
        rows = [
            (
                e.position,
                render.when(e.timestamp),
                describer.actor(e, context or batch),
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

    if not follow:
        show(client.list_events(model=model, after=after, limit=limit))
        return
    # remotely the server's event stream, locally a poll of the log; Ctrl-C ends it (130)
    stream = client.follow_events(after=after, model=model)
    recent: deque[Any] = deque(maxlen=64)  # an event's transaction, for who did it
    try:
        for event in stream:
            recent.append(event)
            show([event], list(recent))
    finally:
        stream.close()  # type: ignore[attr-defined]


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
