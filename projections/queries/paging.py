"""Paging a listing: by page number (an OFFSET, as ZenML does) or by keyset cursor.

A cursor is opaque to callers: URL-safe base64 of the listing it belongs to, a digest of
its filters, the sort key of the last row handed out and the page number it leads to. The
next page is then one index seek past that key however deep the listing goes, and rows
inserted or deleted between two pages neither repeat nor hide the rows after the key.
A cursor from another listing, or given other filters, is refused rather than misread.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, RowMapping, Select

from modelplane.domain.errors import ValidationError

#: the longest cursor text accepted (a model name is the largest key: 255 characters)
MAX_CURSOR_LENGTH = 2048


@dataclass(frozen=True, slots=True)
class Paging:
    """What page to read: a page number, or the cursor a previous page handed out."""

    page: int = 1
    size: int = 50
    cursor: str | None = None


FIRST_PAGE = Paging()


@dataclass(frozen=True, slots=True)
class Position:
    """Where a page starts: the sort key to seek past (None: from the start), or an offset."""

    after: tuple[Any, ...] | None
    offset: int
    index: int


@dataclass(frozen=True, slots=True)
class PageRows:
    """A page's rows, its total (a count or the query that counts it, run only when read),
    the page number and the cursor of the next page (None: this is the last)."""

    rows: list[RowMapping]
    total: int | Select[Any]
    index: int
    next_cursor: str | None


def _digest(listing: str, filters: Sequence[Any]) -> str:
    text = orjson.dumps([listing, *map(str, filters)])
    return hashlib.blake2b(text, digest_size=6).hexdigest()


def encode_cursor(listing: str, filters: Sequence[Any], key: Sequence[Any], index: int) -> str:
    payload = orjson.dumps([listing, _digest(listing, filters), list(key), index])
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_cursor(
    text: object, listing: str, filters: Sequence[Any], key_type: type = int
) -> Position:
    """The position a cursor of this listing (with these filters) points at; its sort key
    must be of ``key_type`` (a name for models, a number or log position otherwise)."""
    if not isinstance(text, str) or not text or len(text) > MAX_CURSOR_LENGTH:
        raise ValidationError(f"Invalid cursor {str(text)[:80]!r}.")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
        kind, digest, key, index = orjson.loads(raw)
    except (binascii.Error, ValueError, TypeError) as error:
        raise ValidationError(f"Invalid cursor {text[:80]!r}.") from error
    if kind != listing or digest != _digest(listing, filters):
        msg = "This cursor belongs to another listing or other filters: start from page 1."
        raise ValidationError(msg)
    valid = isinstance(key, list) and len(key) == 1 and _is_key(key[0], key_type)
    if not (valid and _is_page(index)):
        raise ValidationError(f"Invalid cursor {text[:80]!r}.")
    return Position(tuple(key), 0, index)


def _is_key(value: object, key_type: type) -> bool:
    """A sort key a listing can seek past: a name, or a number the database can hold."""
    if key_type is str:
        return isinstance(value, str)
    return isinstance(value, int) and not isinstance(value, bool) and -(2**63) <= value < 2**63


def _is_page(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 2 <= value < 2**62


def position(
    paging: Paging, listing: str, filters: Sequence[Any], key_type: type = int
) -> Position:
    """Where the page asked for starts: a cursor's key, or a page number's offset."""
    if paging.cursor is None:
        return Position(None, (paging.page - 1) * paging.size, paging.page)
    if paging.page != 1:
        raise ValidationError("Give a page number or a cursor, not both.")
    return decode_cursor(paging.cursor, listing, filters, key_type)


def read_page(
    conn: Connection,
    start: Position,
    size: int,
    listing: str,
    filters: Sequence[Any],
    page_query: Callable[[Any], Select[Any]],
    key_query: Select[Any] | None,
    key_of: Callable[[RowMapping], Any],
    total: int | Select[Any],
) -> PageRows:
    """Read one page of a listing, one row more to learn whether another page follows, and
    make the next page's cursor from the last row's sort key (``key_of``).

    ``page_query(key)`` is the listing in order, past that sort key (None: from the start).
    A page number becomes a key too: ``key_query`` (the listing's sort keys alone, in order,
    read from an index) finds the key of the row before the page, so the rows of the pages
    skipped are never fetched, joined or decoded. Without one, the page is an OFFSET.
    """
    after = start.after[0] if start.after is not None else None
    offset = start.offset
    if offset and key_query is not None:
        after = conn.execute(key_query.offset(offset - 1).limit(1)).scalar()
        if after is None:
            return PageRows([], total, start.index, None)
        offset = 0
    query = page_query(after)
    if offset:
        query = query.offset(offset)
    rows = list(conn.execute(query.limit(size + 1)).mappings())
    next_cursor = None
    if len(rows) > size:
        rows = rows[:size]
        next_cursor = encode_cursor(listing, filters, (key_of(rows[-1]),), start.index + 1)
    return PageRows(rows, total, start.index, next_cursor)


def run_count(conn: Connection, total: int | Select[Any]) -> int:
    return total if isinstance(total, int) else int(conn.execute(total).scalar_one())
