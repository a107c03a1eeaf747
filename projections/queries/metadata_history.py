"""Logged metadata: every value per key on a model version, artifact version or run."""

from __future__ import annotations

from sqlalchemy import Connection, RowMapping, select

from ..tables import metadata_values


def metadata_history(
    conn: Connection, subject_id: str, until: int | None = None
) -> dict[str, list[RowMapping]]:
    """Every value logged per key on a model version, artifact version or run, oldest first
    (up to log position ``until``: the metadata as it was then)."""
    query = (
        select(metadata_values)
        .where(metadata_values.c.subject_id == subject_id)
        .order_by(metadata_values.c.position)
    )
    if until is not None:
        query = query.where(metadata_values.c.position <= until)
    history: dict[str, list[RowMapping]] = {}
    for row in conn.execute(query).mappings():
        history.setdefault(row["key"], []).append(row)
    return history
