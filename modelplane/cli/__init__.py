"""The ``modelplane`` command line (typer + rich).

Each command lives in the module its name gives, under ``commands/``: ``modelplane run list``
in ``commands/run.py``, ``modelplane model version update`` in the package
``commands/model/version/`` (its ``__init__.py``; ``model version tag`` is its ``tag.py``).
A group imports a command's module only when that command runs or help lists it
(``lazy_group.py``). Options several commands share are declared in ``options.py``; parsing
numbers, selectors and times is ``params.py``; output is ``render.py``.

User errors (bad input, unknown names, refused commands) print one line on stderr and exit
with status 1; usage errors exit with 2, as typer does. No traceback reaches the user for
either.
"""

from __future__ import annotations

import re
import sys

import typer

from modelplane.domain.errors import RegistryError, ValidationError

from .lazy_group import lazy_group
from .render import visible

app = typer.Typer(
    name="modelplane",
    help=(
        "modelplane: an event-sourced model registry. "
        "Every change is an event; ask it what was true when."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=lazy_group(
        "modelplane.cli.commands",
        *("events", "replay", "model", "run", "artifact", "token", "webhook", "server"),
        *("login", "logout"),
    ),
)


@app.callback()
def _root() -> None:
    # typer builds a group only for an app with a callback or commands of its own, and every
    # command of this one is lazy
    pass


def main(args: list[str] | None = None) -> None:
    """The console script; ``args`` (default: ``sys.argv[1:]``) lets tests run it in-process.

    stdout carries data only (tables, JSON): rich's shared console, which progress bars and
    live displays use unless given another, writes to stderr.
    """
    import rich

    rich.reconfigure(stderr=True)
    try:
        _check_arguments(sys.argv[1:] if args is None else args)
        app(args=args)
    except RegistryError as error:
        # One line: the message quotes user data, whose newlines and escapes stay visible.
        sys.stderr.write(f"Error: {visible(_in_cli_words(error))}\n")
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as error:
        # The store itself failed (unreachable server, disk full, locked too long): say so on
        # one line; a bug in modelplane still gets its traceback.
        if not _is_store_error(error):
            raise
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        name = type(error).__name__
        sys.stderr.write(f"Error: the store failed: {name}: {visible(first_line)}\n")
        sys.exit(1)


#: SDK spellings in the domain's messages, and what a CLI user types instead (a backstop:
#: commands that know their context word their own messages).
_SDK_TO_CLI = (
    (re.compile(r"\bforce=True\b"), "--force"),
    (
        re.compile(r"list_model_versions\(stage='(\w+)'\)"),
        r"modelplane model version list MODEL --stage \1",
    ),
)


def _in_cli_words(error: Exception) -> str:
    message = str(error)
    for pattern, replacement in _SDK_TO_CLI:
        message = pattern.sub(replacement, message)
    return message


def _check_arguments(args: list[str]) -> None:
    """Refuse arguments that are not valid UTF-8 (Python hands them over as surrogates).

    No name, tag or text can be stored with them; refusing here keeps them from reaching the
    store as an encoding error.
    """
    for index, arg in enumerate(args, start=1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            shown = visible(arg.encode("utf-8", "backslashreplace").decode("utf-8"))
            msg = f"Argument {index} ('{shown}') is not valid UTF-8 text."
            raise ValidationError(msg) from None


def _is_store_error(error: BaseException) -> bool:
    from sqlalchemy.exc import SQLAlchemyError

    if isinstance(error, SQLAlchemyError):
        return True
    module = type(error).__module__
    return module.startswith(("eventsourcing", "psycopg", "sqlite3"))
