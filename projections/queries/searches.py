"""Searches of live models and versions by conditions on their columns and key-value tags,
in any of a few orders, one page after a key: the filtering, sorting and cutting all in SQL.

A search reads only the page it answers (``LIMIT``), whatever the number of candidates: the
MLflow API's ``search_registered_models`` and ``search_model_versions`` stand on this, and a
model with 10,000 versions must not be loaded to answer a page of 10. The page starts after
the sort key of the last row of the previous page (a keyset), so a row created or deleted
between two pages does not shift the others (an offset would repeat or skip one); a row whose
sort key itself moves meanwhile (its ``updated``) may be shown twice or not at all.

Names sort by code point on both stores (SQLite's ``BINARY``, PostgreSQL's ``"C"``
collation), so a page's order and its keyset comparisons do not depend on the database's
locale. ``LIKE`` is case-sensitive on both (SQLite's own ``LIKE`` ignores ASCII case: there
the pattern is run as a ``GLOB``). ``ILIKE`` folds case over all of Unicode: SQLite's own
folds ASCII only, so there it is ``engine.ILIKE_FUNCTION``, registered on every connection;
PostgreSQL folds as the database's ``LC_CTYPE`` does (all of Unicode in a UTF-8 one).
Key-value tags are read after the rows' own tables inside each statement (``EXISTS`` in the
``WHERE``, after the ``FROM``): ``tables.READ_LAST``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    Select,
    Table,
    and_,
    exists,
    false,
    func,
    not_,
    or_,
    select,
    true,
)

from ..engine import ILIKE_FUNCTION
from ..tables import model_key_value_tags, models, version_key_value_tags, versions
from .models import MODEL_WITH_LATEST

M, V = models.c, versions.c
MK, VK = model_key_value_tags.c, version_key_value_tags.c

_INT32_MIN, _INT32_MAX = -(2**31), 2**31 - 1

Comparator = Literal["=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "IN", "NOT IN"]
Value = str | int | tuple[str, ...]
SortValue = str | int | datetime


@dataclass(frozen=True)
class Condition:
    """One test a row must pass: on a column (``field`` as ``MODEL_FIELDS`` or
    ``VERSION_FIELDS`` name it) or, with ``tag``, on the key-value tag ``field``.

    A row without the tag (or with a NULL column) passes no condition on it, unless
    ``missing_matches``: then a row without the tag passes as well.
    """

    field: str
    comparator: Comparator
    value: Value
    tag: bool = False
    missing_matches: bool = False


@dataclass(frozen=True)
class Sort:
    """One sort key: ``name``, ``number`` (versions), ``created`` or ``updated``."""

    field: str
    descending: bool = False


#: what conditions and sorts may name, per search
MODEL_FIELDS = {"name": M.name, "created": M.created, "updated": M.updated}
VERSION_FIELDS = {
    "name": M.name,  # the model's
    "number": V.number,
    "created": V.created,
    "updated": V.updated,
    "run_id": V.source_run_id,
    "source": V.source,
}


def search_model_rows(
    conn: Connection,
    conditions: Sequence[Condition],
    sorts: Sequence[Sort],
    after: Sequence[SortValue] | None,
    limit: int,
) -> list[RowMapping]:
    """Up to ``limit`` live models passing every condition, sorted, after the key ``after``
    (one value per sort); each row as ``queries.models`` reads one (with
    ``latest_version_name``)."""
    where = [M.deleted == false()]
    where += [
        _test(conn, MODEL_FIELDS, c, model_key_value_tags, MK.model_id, M.id)
        for c in conditions
    ]
    return _page(conn, MODEL_WITH_LATEST, MODEL_FIELDS, where, sorts, after, limit)


def search_version_rows(
    conn: Connection,
    conditions: Sequence[Condition],
    sorts: Sequence[Sort],
    after: Sequence[SortValue] | None,
    limit: int,
) -> list[RowMapping]:
    """The same over live versions of live models; each row a version's with
    ``model_name``."""
    query = select(versions, M.name.label("model_name")).join(models, M.id == V.model_id)
    where = [M.deleted == false(), V.deleted == false()]
    where += [
        _test(conn, VERSION_FIELDS, c, version_key_value_tags, VK.version_id, V.id)
        for c in conditions
    ]
    return _page(conn, query, VERSION_FIELDS, where, sorts, after, limit)


def _page(
    conn: Connection,
    query: Select[Any],
    fields: Mapping[str, ColumnElement[Any]],
    where: list[ColumnElement[bool]],
    sorts: Sequence[Sort],
    after: Sequence[SortValue] | None,
    limit: int,
) -> list[RowMapping]:
    columns = [_sortable(conn, fields[sort.field], sort.field) for sort in sorts]
    if after is not None:
        where.append(_after(columns, sorts, after))
    order = [c.desc() if s.descending else c.asc() for c, s in zip(columns, sorts, strict=True)]
    return list(conn.execute(query.where(*where).order_by(*order).limit(limit)).mappings())


def _after(
    columns: list[ColumnElement[Any]], sorts: Sequence[Sort], after: Sequence[SortValue]
) -> ColumnElement[bool]:
    """Rows whose sort key comes after ``after``: past it on the first key, or equal there
    and past it on the next, and so on."""
    alternatives = []
    for i, (column, sort) in enumerate(zip(columns, sorts, strict=True)):
        equal = [columns[j] == after[j] for j in range(i)]
        past = column < after[i] if sort.descending else column > after[i]
        alternatives.append(and_(*equal, past))
    return or_(*alternatives)


def _sortable(conn: Connection, column: ColumnElement[Any], field: str) -> ColumnElement[Any]:
    if field == "name" and conn.dialect.name == "postgresql":
        return column.collate("C")
    return column


def _test(
    conn: Connection,
    fields: Mapping[str, ColumnElement[Any]],
    condition: Condition,
    tags: Table,
    subject: ColumnElement[Any],
    row_id: ColumnElement[Any],
) -> ColumnElement[bool]:
    if not condition.tag:
        return _compare(conn, fields[condition.field], condition.comparator, condition.value)
    key = and_(subject == row_id, tags.c.key == condition.field)
    holds = exists().where(key, _compare(conn, tags.c.value, condition.comparator, condition.value))
    if condition.missing_matches:
        return or_(holds, not_(exists().where(key)))
    return holds


def _compare(
    conn: Connection, column: ColumnElement[Any], comparator: Comparator, value: Value
) -> ColumnElement[bool]:
    if comparator in ("IN", "NOT IN"):
        listed = column.in_(list(value))  # type: ignore[arg-type]
        # NULL is in no list and outside none: a version without a run matches neither
        return listed if comparator == "IN" else and_(column.is_not(None), not_(listed))
    if comparator == "LIKE":
        return _like(conn, column, str(value))
    if comparator == "ILIKE":
        if conn.dialect.name == "sqlite":  # SQLite's LIKE folds ASCII only
            return getattr(func, ILIKE_FUNCTION)(column, str(value)) == 1
        return column.ilike(str(value).replace("\\", "\\\\"), escape="\\")
    if isinstance(value, int) and not _INT32_MIN <= value <= _INT32_MAX:
        # past any number a version can have (and past what the column's type binds): every
        # number is below it, or above it
        below = value > _INT32_MAX
        holds = comparator in (("<", "<=", "!=") if below else (">", ">=", "!="))
        return true() if holds else false()
    compare = {
        "=": column.__eq__,
        "!=": column.__ne__,
        "<": column.__lt__,
        "<=": column.__le__,
        ">": column.__gt__,
        ">=": column.__ge__,
    }[comparator]
    return compare(value)  # type: ignore[no-any-return]


def _like(conn: Connection, column: ColumnElement[Any], pattern: str) -> ColumnElement[bool]:
    """MLflow's ``LIKE``: ``%`` any run, ``_`` one character, case-sensitive, no escape
    character (a backslash is itself)."""
    if conn.dialect.name == "sqlite":
        return column.op("GLOB")(_glob(pattern))  # type: ignore[no-any-return]
    return column.like(pattern.replace("\\", "\\\\"), escape="\\")


def _glob(pattern: str) -> str:
    """A ``LIKE`` pattern as a ``GLOB`` one: wildcards swapped, GLOB's own in brackets."""
    special = {"%": "*", "_": "?", "*": "[*]", "?": "[?]", "[": "[[]"}
    return "".join(special.get(c, c) for c in pattern)

