"""How a text names a stored row: by its whole id, or (as in ZenML) by the start of it."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import Connection, RowMapping, Table, func, select

from modelplane.domain.errors import RegistryError


def as_uuid(value: object) -> UUID | None:
    """The UUID a string or UUID denotes, or None if it is a name."""
    if isinstance(value, UUID):
        return value
    if isinstance(value, str) and len(value) in (32, 36):
        try:
            return UUID(value)
        except ValueError:
            return None
    return None


class AmbiguousPrefixError(RegistryError, KeyError):
    """Raised when an id prefix matches several entities (ZenML raises a ``KeyError`` too)."""


_HEX_DIGITS = frozenset("0123456789abcdef")


def id_prefix(text: object) -> str | None:
    """``text`` as the start of a stored id (``str(uuid)``), or None if it is not an id prefix.

    As in ZenML, a prefix is hex digits with or without dashes (dashes are dropped, then put
    back where ``str(UUID)`` has them, so the lookup is a LIKE on the indexed id column);
    a full id is not a prefix (it is looked up exactly, before names and prefixes).
    """
    if not isinstance(text, str):
        return None
    digits = text.replace("-", "").lower()
    if not digits or len(digits) >= 32 or not set(digits) <= _HEX_DIGITS:
        return None
    groups = [digits[a:b] for a, b in ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32))]
    return "-".join(group for group in groups if group)


def row_by_id_prefix(conn: Connection, table: Table, text: object, what: str) -> RowMapping | None:
    """The one row of ``table`` whose id starts with the prefix ``text``; None if none does.

    ``what`` names the entities in the plural ("pipeline runs") for the error raised when
    several ids share the prefix: which one was meant cannot be guessed.
    """
    prefix = id_prefix(text)
    if prefix is None:
        return None
    matching = table.c.id.startswith(prefix)
    count = conn.execute(select(func.count()).select_from(table).where(matching)).scalar_one()
    if count > 1:
        msg = f"{count} {what} have an id starting with '{text}'; use a longer prefix."
        raise AmbiguousPrefixError(msg)
    return conn.execute(select(table).where(matching)).mappings().first()
