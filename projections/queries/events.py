"""The event index: which log positions concern a model, and what each position concerns.

The events themselves are read from the log by ``projections.log.EventLog``.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, RowMapping, or_, select

from ..tables import artifact_links, event_index, runs


def event_positions(
    conn: Connection, model_ids: Sequence[str] | None, after: int, limit: int
) -> list[int]:
    """The first ``limit`` positions after ``after`` of these models' feed (None: every event)."""
    query = select(event_index.c.position).where(event_index.c.position > after)
    if model_ids is not None:
        # the model's own events, those of its runs (steps, outputs, the end) and those of
        # the artifact versions linked to its versions (recorded, metadata logged on them)
        its_runs = select(runs.c.id).where(runs.c.model_id.in_(model_ids))
        its_artifacts = select(artifact_links.c.artifact_version_id).where(
            artifact_links.c.model_id.in_(model_ids)
        )
        query = query.where(
            or_(
                event_index.c.model_id.in_(model_ids),
                event_index.c.run_id.in_(its_runs),
                event_index.c.artifact_version_id.in_(its_artifacts),
            )
        )
    query = query.order_by(event_index.c.position).limit(limit)
    return [int(p) for p in conn.execute(query).scalars()]


def event_entries(conn: Connection, positions: Sequence[int]) -> dict[int, RowMapping]:
    """The index rows of these positions, by position."""
    if not positions:
        return {}
    query = select(event_index).where(event_index.c.position.in_(positions))
    return {int(row["position"]): row for row in conn.execute(query).mappings()}
