"""The time of an event: when its transaction became visible, taken under the log's write lock.

The library dates an event when it is triggered, before the command waits for the write lock.
A write that waited would then be dated before it became visible, and under contention a
later position could carry an earlier time, so "production at T" could include a promotion
that the history dates after T. Instead every event of one save gets one timestamp, taken
after the lock is held and strictly greater than the newest timestamp already in the log.
Timestamps therefore increase with position, and the events of one transaction share theirs:
time travel to a datetime answers what a reader polling at that time saw, and the events with
equal timestamps are exactly one transaction (``projections.queries.time_travel.position_at``).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    bindparam,
    case,
    cast,
    delete,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.orm import Session

from .tables import clock, event_index

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _tick(now: Any) -> Any:
    """Move the clock to ``now``, or one microsecond past the last time handed out when the
    wall clock is behind it (two commits in one microsecond, a clock stepped back); read it."""
    return (
        update(clock)
        .where(clock.c.id == 1)
        .values(micros=case((clock.c.micros >= now, clock.c.micros + 1), else_=now))
        .returning(clock.c.micros)
    )


# PostgreSQL: the table lock is taken first, so the time read after it is late enough.
_tick_after_lock = _tick(bindparam("now", type_=BigInteger))
# SQLite: this update is the transaction's first write and waits for the write lock itself;
# the time is read by SQLite as the statement runs, after the wait (not before it, as a time
# passed in from Python would be). SQLite's clock has millisecond resolution.
_tick_sqlite = _tick(
    cast((func.julianday("now") - 2440587.5) * 86_400_000_000.0, BigInteger)
)


def lock_and_date(
    session: Session, lock_log: Any, dialect: str, events: Iterable[Any]
) -> datetime:
    """Take the log's write lock, then stamp ``events`` with the moment they become visible.

    ``lock_log(session)`` is the recorder's own lock (PostgreSQL's table lock); on SQLite the
    clock's update, the transaction's first write, takes the database's single write lock.
    """
    if dialect == "sqlite":
        micros = session.execute(_tick_sqlite).scalar()
    else:
        lock_log(session)
        micros = session.execute(_tick_after_lock, {"now": time.time_ns() // 1_000}).scalar()
    if micros is None:  # read tables from before the clock: start it from the log
        micros = max(time.time_ns() // 1_000, newest_micros(session) + 1)
        session.execute(insert(clock), {"id": 1, "micros": micros})
    at = EPOCH + timedelta(microseconds=int(micros))
    for event in events:
        object.__setattr__(event, "timestamp", at)
    return at


def newest_micros(conn: Session | Connection) -> int:
    """The time of the newest event folded into the read tables, in microseconds (0: none)."""
    newest = conn.execute(select(func.max(event_index.c.timestamp))).scalar()
    if newest is None:
        return 0
    return (newest - EPOCH) // timedelta(microseconds=1)


def set_clock(conn: Session | Connection) -> None:
    """Start the clock at the newest event's time (after the read tables were rebuilt)."""
    conn.execute(delete(clock))
    conn.execute(insert(clock), {"id": 1, "micros": newest_micros(conn)})
