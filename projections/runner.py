"""Catching projections up with the log, inline after a write or in bulk for a replay.

Exactly-once: a projection's rows and its tracking row change in one transaction, and the
tracking row moves with a compare-and-set (``UPDATE ... WHERE position = :old``), so two
processes folding the same events cannot both commit; the loser's transaction (its whole
command) rolls back and is retried.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Sequence
from typing import cast
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Recording
from sqlalchemy import Connection, bindparam, delete, insert, inspect, select, update
from sqlalchemy.orm import Session

from .aliases import Aliases
from .bulk import BulkWriter
from .catalog import Catalog
from .clock import set_clock
from .event_index import EventIndex
from .folding import Batch, Projection
from .key_value_tags import KeyValueTags
from .lineage import Lineage
from .log import EventLog
from .metadata_values import MetadataValues
from .stage_history import StageHistory
from .tables import FINGERPRINT, clock, read_tables, schema, tracking
from .tokens import Tokens
from .webhooks import Webhooks

#: Every projection, in the order they fold each batch.
PROJECTIONS: tuple[Projection, ...] = (
    Catalog(),
    StageHistory(),
    Aliases(),
    KeyValueTags(),
    MetadataValues(),
    Lineage(),
    Tokens(),
    Webhooks(),
    EventIndex(),
)

Progress = Callable[[int, int], None]

_advance = (
    update(tracking)
    .where(
        tracking.c.projection.in_(bindparam("names", expanding=True)),
        tracking.c.position == bindparam("old"),
    )
    .values(position=bindparam("head"))
)
_positions = select(tracking.c.projection, tracking.c.position)


def create_tables(conn: Connection) -> None:
    """Create the read tables, a tracking row (position 0) per projection, the fingerprint."""
    read_tables.create_all(conn)
    known = set(conn.execute(select(tracking.c.projection)).scalars())
    missing = [p.name for p in PROJECTIONS if p.name not in known]
    if missing:
        conn.execute(insert(tracking), [{"projection": name, "position": 0} for name in missing])
    if conn.execute(select(schema.c.fingerprint)).scalar() is None:
        conn.execute(insert(schema), {"fingerprint": FINGERPRINT})
    if conn.execute(select(clock.c.id)).scalar() is None:
        conn.execute(insert(clock), {"id": 1, "micros": 0})


def stored_fingerprint(conn: Connection) -> str | None:
    """The fingerprint the read tables were built with (None: no read tables yet)."""
    if not inspect(conn).has_table(schema.name):
        return None
    return conn.execute(select(schema.c.fingerprint)).scalar()


def upgrade(session: Session | Connection, log: EventLog, progress: Progress | None = None) -> bool:
    """Make the read tables match this code's in place, refolding the log if they did not.

    Runs in the caller's transaction, which must hold the log's write lock and, on a store
    other processes may be creating at the same time, the schema lock
    (``projections.engine.schema_transaction``): for a new store, or an empty log. Read
    tables over a log worth keeping are rebuilt beside the live ones instead
    (``projections.generations``). Returns whether the tables were rebuilt.
    """
    conn = session.connection() if isinstance(session, Session) else session
    if stored_fingerprint(conn) == FINGERPRINT:
        return False
    read_tables.drop_all(conn)
    create_tables(conn)
    rebuild(session, log, progress=progress)
    set_clock(session)
    return True


def positions(conn: Session | Connection) -> dict[str, int]:
    """Each projection's tracked log position."""
    return {name: int(pos) for name, pos in conn.execute(_positions)}


def catch_up(
    conn: Session | Connection,
    log: EventLog,
    recordings: Sequence[Recording[UUID]] = (),
    projections: Sequence[Projection] = PROJECTIONS,
) -> int:
    """Fold every event the projections have not seen; return the position reached.

    Called inside the writer's transaction after it appended ``recordings``. When nothing
    else was appended since the projections last moved (the usual case), the events are
    folded from memory; otherwise the gap is read from the log first, in order.
    """
    tracked = positions(conn)
    start = min(tracked[p.name] for p in projections)
    pending: list[tuple[int, object]] = []
    if recordings and int(recordings[0].notification.id) == start + 1:
        pending = [(int(r.notification.id), r.domain_event) for r in recordings]
        _fold(conn, projections, tracked, pending)
        head = pending[-1][0]
    else:
        head = start
        for page in log.pages(conn, start):
            _fold(conn, projections, tracked, page)
            head = page[-1][0]
    _advance_all(conn, projections, tracked, head)
    return head


def queue(
    batch: Batch,
    projections: Sequence[Projection],
    tracked: dict[str, int],
    events: Sequence[tuple[int, object]],
) -> None:
    """Queue in ``batch`` the statements folding the events each projection has not seen.

    Projection by projection, each in log order (a projection's statements stay together,
    so the batch sends them in few executions); handlers looked up once per event type.
    """
    types = {type(event) for _, event in events}
    for projection in projections:
        seen = tracked[projection.name]
        handlers = {t: projection.handler_for(t) for t in types}
        for position, event in events:
            if position > seen:
                handler = handlers[type(event)]
                if handler is not None:
                    handler(event, position, batch)


def _fold(
    conn: Session | Connection,
    projections: Sequence[Projection],
    tracked: dict[str, int],
    events: Sequence[tuple[int, object]],
) -> None:
    batch = Batch()
    queue(batch, projections, tracked, events)
    batch.flush(conn)


def _advance_all(
    conn: Session | Connection,
    projections: Sequence[Projection],
    tracked: dict[str, int],
    head: int,
) -> None:
    """Compare-and-set every projection's position to ``head``: one UPDATE per old position."""
    by_old: dict[int, list[str]] = {}
    for projection in projections:
        old = tracked[projection.name]
        if old != head:
            by_old.setdefault(old, []).append(projection.name)
    for old, names in by_old.items():
        result = conn.execute(_advance, {"names": names, "old": old, "head": head})
        if result.rowcount != len(names):  # type: ignore[attr-defined]
            msg = f"Projections {', '.join(names)} were moved by another writer"
            raise IntegrityError(msg)


def rebuild(
    conn: Session | Connection,
    log: EventLog,
    until: int | None = None,
    progress: Progress | None = None,
    projections: Sequence[Projection] = PROJECTIONS,
    source: Session | Connection | None = None,
) -> int:
    """Empty the projections' tables and fold the log into them again, up to ``until``.

    Runs in the caller's transaction, so readers see the old tables until it commits. The
    log is read from ``source`` when the tables live elsewhere (a replay ``--into`` a file).
    Returns the number of events folded.
    """
    source = conn if source is None else source
    for projection in projections:
        for table in projection.tables:
            conn.execute(delete(table))
    conn.execute(
        update(tracking)
        .where(tracking.c.projection.in_([p.name for p in projections]))
        .values(position=0)
    )
    total = log.count(source, 0, until)
    tracked = {p.name: 0 for p in projections}
    done = 0
    head = 0
    if progress:
        progress(0, total)
    # A replay allocates millions of short-lived, acyclic objects; the cyclic collector's
    # repeated scans of them cost a third of the time, and reference counting frees them.
    collecting = gc.isenabled()
    gc.disable()
    connection = conn if isinstance(conn, Connection) else conn.connection()
    writer = cast(Connection, BulkWriter(connection))  # it runs what a session would
    try:
        for page in log.pages(source, 0, until):
            _fold(writer, projections, tracked, page)
            done += len(page)
            head = page[-1][0]
            if progress:
                progress(done, total)
    finally:
        if collecting:
            gc.enable()
    _advance_all(conn, projections, tracked, head)
    return done
