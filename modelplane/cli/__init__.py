"""The ``modelplane`` command line (typer + rich).

User errors (bad input, unknown names, refused commands) print one line on stderr and exit
with status 1; usage errors exit with 2, as typer does. No traceback reaches the user for
either.
"""

from __future__ import annotations

import sys

import typer

from domain.errors import RegistryError

from . import audit, lineage, models

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
app.add_typer(lineage.runs, name="run")
app.add_typer(lineage.artifacts, name="artifact")
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
    except Exception as error:
        # The store itself failed (unreachable server, disk full, locked too long): say so on
        # one line; a bug in modelplane still gets its traceback.
        if not _is_store_error(error):
            raise
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        sys.stderr.write(f"Error: the store failed: {type(error).__name__}: {first_line}\n")
        sys.exit(1)


def _is_store_error(error: BaseException) -> bool:
    from sqlalchemy.exc import SQLAlchemyError

    if isinstance(error, SQLAlchemyError):
        return True
    module = type(error).__module__
    return module.startswith(("eventsourcing", "psycopg", "sqlite3"))
