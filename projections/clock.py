"""The time of an event: when its transaction became visible, taken under the log's write lock.

The library dates an event when it is triggered, before the command waits for the write lock.
A write that waited would then be dated before it became visible, and under contention a
later position could carry an earlier time, so "production at T" could include a promotion
that the history dates after T. Instead every event of one save gets one timestamp, taken
after the lock is held and strictly greater than the newest timestamp already in the log.
Timestamps therefore increase with position, and the events of one transaction share theirs:
time travel to a datetime answers what a reader polling at that time saw, and the events with
equal timestamps are exactly one transaction (``projections.queries.visible_position``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from .tables import tracking

_ONE_TICK = timedelta(microseconds=1)

# A write that changes nothing, to take SQLite's single write lock at the start of the
# transaction (PostgreSQL takes the library's table lock instead).
_take_sqlite_lock = (
    update(tracking)
    .where(tracking.c.projection == bindparam("name"))
    .values(position=tracking.c.position)
)


def lock_and_date(
    session: Session, log_table: Table, lock_log: Any, dialect: str, events: Iterable[Any]
) -> datetime:
    """Take the log's write lock, then stamp ``events`` with the moment they become visible.

    ``lock_log(session)`` is the recorder's own lock (PostgreSQL's table lock). The new
    timestamp is now, or one microsecond after the newest event in the log if the clock
    is behind it (two commits in one microsecond, or a clock stepped back).
    """
    if dialect == "sqlite":
        session.execute(_take_sqlite_lock, {"name": "catalog"})
    else:
        lock_log(session)
    at = datetime.now(UTC)
    newest = session.execute(
        select(log_table.c.state).order_by(log_table.c.id.desc()).limit(1)
    ).scalar()
    if newest is not None:
        last = datetime.fromisoformat(orjson.loads(bytes(newest))["timestamp"])
        if at <= last:
            at = last + _ONE_TICK
    for event in events:
        object.__setattr__(event, "timestamp", at)
    return at
