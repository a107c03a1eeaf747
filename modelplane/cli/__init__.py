"""The ``modelplane`` command line (typer + rich).

User errors (bad input, unknown names, refused commands) print one line on stderr and exit
with status 1; usage errors exit with 2, as typer does. No traceback reaches the user for
either.
"""

from __future__ import annotations

import sys

import typer

from domain.errors import RegistryError

from . import audit, models

app = typer.Typer(
    name="modelplane",
    help=(
        "modelplane: an event-sourced model registry. "
        "Every change is an event; ask it what was true when."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(models.app, name="model")
app.command("events")(audit.events)
app.command("replay")(audit.replay)


def main() -> None:
    try:
        app()
    except RegistryError as error:
        sys.stderr.write(f"Error: {error}\n")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
