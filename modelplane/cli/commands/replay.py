"""``modelplane replay``: rebuild the read tables from the log."""

from __future__ import annotations

from typing import Annotated

import typer

from .. import render, sdk
from ..params import parse_at

app = typer.Typer(add_completion=False)


@app.command("replay")
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
        result = sdk.client().rebuild_projections(
            until=parse_at(until), into=into, progress=progress, overwrite=overwrite
        )
    finally:
        if bar.live.is_started:
            bar.stop()
    render.note(
        f"Replayed {result.events} events up to position {result.position} into "
        f"{result.target} in {result.seconds:.2f}s ({result.events_per_second:,.0f} events/s)."
    )
