"""Output for the CLI: rich tables for people, JSON (one document) for scripts.

Everything shown here is user data (names, tags, descriptions, reasons, error messages that
quote them), so none of it is ever parsed as rich markup: a tag ``team[/ml]`` is printed as
written, not taken for a closing tag. Control characters and the invisible bidirectional and
format characters are shown as escapes (``\\x1b``, ``\\u202e``), so a description can neither
drive the terminal nor reorder what is printed around it. Tables go to stdout, notes and
progress to stderr: a script reading stdout gets data only.
"""

from __future__ import annotations

import dataclasses
import re
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any
from uuid import UUID

import orjson

if TYPE_CHECKING:
    from rich.console import Console
    from rich.text import Text

#: Characters a terminal acts on or that change how the text around them is displayed: C0
#: (except newline where a field keeps its lines), DEL, C1, and the Unicode bidirectional and
#: invisible format characters (ALM, ZWSP, LRM/RLM, LRE..RLO, word joiner..invisible plus,
#: LRI..PDI, line/paragraph separators, BOM, interlinear annotations). Zero-width (non-)joiners
#: stay: emoji sequences and several scripts need them.
_UNSAFE = (
    "\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u2028\u2029"
    "\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufff9-\ufffb"
)
_UNSAFE_CHAR = re.compile(f"[{_UNSAFE}]")
_UNSAFE_OR_NEWLINE = re.compile(f"[{_UNSAFE}\n]")
_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(value: Any, *, keep_newlines: bool = False) -> str:
    """``value`` as text with every unsafe character replaced by a visible escape."""
    text = "" if value is None else str(value)
    pattern = _UNSAFE_CHAR if keep_newlines else _UNSAFE_OR_NEWLINE
    return pattern.sub(_escape, text)


def text(value: Any, *, keep_newlines: bool = False) -> Text:
    """A rich ``Text`` holding ``value`` literally (never markup), made visible."""
    from rich.text import Text

    if isinstance(value, Text):
        return value
    return Text(visible(value, keep_newlines=keep_newlines))


def plain(obj: Any) -> Any:
    """A JSON-ready view of a response object (private fields dropped)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out = {
            f.name: plain(getattr(obj, f.name))
            for f in dataclasses.fields(obj)
            if not f.name.startswith("_")
        }
        for prop in ("version", "total_pages"):
            if hasattr(type(obj), prop) and isinstance(getattr(type(obj), prop), property):
                out[prop] = plain(getattr(obj, prop))
        return out
    if isinstance(obj, Enum):
        return obj.value
    if isinstance(obj, (UUID, datetime)):
        return str(obj) if isinstance(obj, UUID) else obj.isoformat()
    if isinstance(obj, dict):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(v) for v in obj]
    return obj


def print_json(obj: Any) -> None:
    sys.stdout.write(orjson.dumps(plain(obj), option=orjson.OPT_INDENT_2).decode() + "\n")


def print_json_line(obj: Any) -> None:
    sys.stdout.write(orjson.dumps(plain(obj)).decode() + "\n")
    sys.stdout.flush()


def when(value: datetime | None) -> str:
    """A time as the CLI shows it: UTC, the zone ``--at`` assumes for a time without one, so a
    time copied from a table into ``--at`` means the same moment on any machine."""
    if value is None:
        return ""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def stage(value: object) -> str:
    """A stage as shown: a ``ModelStages`` member or a plain string such as ``deleted``."""
    return str(getattr(value, "value", value))


def console(*, stderr: bool = False) -> Console:
    """A console that never turns strings into markup, emoji or highlighted spans."""
    from rich.console import Console

    return Console(stderr=stderr, markup=False, emoji=False, highlight=False)


def table(
    title: str | None,
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    keep_newlines: bool = False,
    compact: bool = False,
) -> None:
    """Print a table on stdout; every cell (and the title) is shown as literal text.

    ``compact`` trades the column padding for width (the event log at 80 columns).
    """
    from rich import box
    from rich.table import Table

    options: dict[str, Any] = {}
    if compact:
        options = {
            "box": box.SIMPLE_HEAD,
            "show_edge": False,
            "pad_edge": False,
            "collapse_padding": True,
        }
    out = Table(
        title=None if title is None else text(title),
        title_justify="left",
        **options,
    )
    for column in columns:
        out.add_column(column, overflow="fold")
    for row in rows:
        out.add_row(*(text(cell, keep_newlines=keep_newlines) for cell in row))
    console().print(out)


def fields(title: str, pairs: Iterable[tuple[str, Any]]) -> None:
    """One record as FIELD/VALUE rows; multi-line values (a model card) keep their lines."""
    table(title, ("FIELD", "VALUE"), pairs, keep_newlines=True)


def line(message: str) -> None:
    """A line of output on stdout (a heading between tables), user data in it literal."""
    console().print(text(message, keep_newlines=True))


def note(message: str) -> None:
    """A message for the person at the terminal, on stderr (user data in it stays literal)."""
    console(stderr=True).print(text(message, keep_newlines=True))


def payload(value: Any) -> str:
    """An event payload as compact JSON text (for tables and tab-separated lines)."""
    return orjson.dumps(plain(value)).decode()


def page_note(page: Any, noun: str) -> None:
    """The pager line under a listing: ``Page 1/3, 120 model(s).``

    An empty listing says so, and a page past the end says it is past the end rather than
    ``Page 5/2``.
    """
    total, index, pages = int(page.total), int(page.index), int(page.total_pages)
    if total == 0:
        note(f"No {noun}s." if index == 1 else f"Page {index} is past the end: no {noun}s.")
    elif index > pages:
        note(f"Page {index} is past the end: {pages} page(s), {total} {noun}(s).")
    else:
        note(f"Page {index}/{pages}, {total} {noun}(s).")
