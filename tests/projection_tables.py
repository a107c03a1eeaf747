"""Reading the read tables back in tests: "a rebuild folds the same rows" compares these."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select

from modelplane.projections.tables import read_tables


def dump_tables(conn: Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every projection table's rows in a stable order (for comparing live and rebuilt)."""
    dumped: dict[str, list[tuple[Any, ...]]] = {}
    for table in read_tables.sorted_tables:
        rows = conn.execute(select(table)).all()
        dumped[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return dumped
