"""Output for the CLI: rich tables for people, JSON (one document) for scripts."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import Enum
from typing import Any
from uuid import UUID

import orjson


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
    return "" if value is None else value.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    from rich.console import Console
    from rich.table import Table

    out = Table(title=title, title_justify="left")
    for column in columns:
        out.add_column(column, overflow="fold")
    for row in rows:
        out.add_row(*("" if cell is None else str(cell) for cell in row))
    Console().print(out)


def fields(title: str, pairs: Iterable[tuple[str, Any]]) -> None:
    table(title, ("FIELD", "VALUE"), pairs)


def note(message: str) -> None:
    from rich.console import Console

    Console(stderr=True).print(message)


def payload(value: Any) -> str:
    """An event payload as compact JSON text (for tables and tab-separated lines)."""
    return orjson.dumps(plain(value)).decode()


def page_note(page: Any, noun: str) -> None:
    """The pager line under a listing: ``Page 1/3, 120 model(s).``"""
    note(f"Page {page.index}/{page.total_pages}, {page.total} {noun}(s).")
