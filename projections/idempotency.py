"""The answers of HTTP writes sent with an ``Idempotency-Key``, kept for their retries.

An operational table, not a read table: the read tables are dropped and refolded from the log
(``projections/generations.py``), and nothing here is in the log. So ``mp_idempotency`` has a
``MetaData`` of its own (outside the read tables' fingerprint), is created beside them when a
server starts and is never rebuilt.

One row per token name and key: ``running`` while a request holds the key (its ``claim``, until
``lease_until``), then ``done`` with the status, body and content type of its answer, kept until
``expires_at``. A key is claimed in a short transaction of its own, committed before the
request runs, so every worker sees the claim and the table's primary key decides a race
(``INSERT ... ON CONFLICT DO NOTHING``). The request's own transaction then starts with
:func:`hold` (its first statement: on PostgreSQL it locks the row, on SQLite it takes the
database's write lock) and ends with :func:`finish`, so the answer commits with the events,
or neither does. A takeover of a running key whose lease ran out waits for that lock: a
request still alive commits first and is then found done. Only a claim whose process died
before committing is taken over, and then none of its events exist.

Expired rows are treated as absent (a new request may take the key) and deleted now and then
by whoever claims a key (at most once a minute per process, a bounded batch).
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from sqlalchemy import (
    Column,
    Connection,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    and_,
    delete,
    inspect,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from .engine import schema_transaction
from .tables import UTCDateTime

idempotency_tables = MetaData()

#: the longest key kept (the header is refused above it)
MAX_KEY_LENGTH = 255
RUNNING = "running"
DONE = "done"
#: expired rows are deleted at most this often per process, this many at a time
PURGE_INTERVAL_SECONDS = 60.0
PURGE_BATCH = 1_000
#: a claim that loses this many rounds in a row to other requests reports the key as busy
_CLAIM_ROUNDS = 5

keys = Table(
    "mp_idempotency",
    idempotency_tables,
    Column("token", String(255), primary_key=True),  # the token's name: keys are per token
    Column("key", String(MAX_KEY_LENGTH), primary_key=True),
    Column("fingerprint", String(64), nullable=False),  # sha256 of method, path, query, body
    Column("state", String(8), nullable=False),
    Column("claim", String(32), nullable=False),  # which request holds (or held) the key
    Column("lease_until", UTCDateTime, nullable=False),
    Column("status", Integer, nullable=True),
    Column("body", LargeBinary, nullable=True),
    Column("content_type", String(255), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index("mp_idempotency_expires", "expires_at"),
)


@dataclass(frozen=True, slots=True)
class Claimed:
    """This request holds the key: it runs, then stores its answer (or releases the key)."""

    token: str
    key: str
    claim: str


@dataclass(frozen=True, slots=True)
class Answered:
    """The key's first request finished: its answer, to send again."""

    status: int
    body: bytes
    content_type: str | None


@dataclass(frozen=True, slots=True)
class InProgress:
    """Another request holds the key, until ``lease_until`` at the latest."""

    lease_until: datetime


@dataclass(frozen=True, slots=True)
class Reused:
    """The key was used by this token for a different request."""


Outcome = Claimed | Answered | InProgress | Reused

_ready: weakref.WeakSet[Engine] = weakref.WeakSet()
_ready_lock = threading.Lock()
_next_purge = 0.0


def ensure_table(engine: Engine) -> None:
    """Create ``mp_idempotency`` if the store lacks it, under the schema lock (any number of
    processes may start at once); looked at once per engine (one per store per process)."""
    with _ready_lock:
        if engine in _ready:
            return
        with engine.connect() as conn:
            present = inspect(conn).has_table(keys.name)
        if not present:
            with schema_transaction(engine) as conn:
                idempotency_tables.create_all(conn, checkfirst=True)
        _ready.add(engine)


def claim(
    engine: Engine, token: str, key: str, fingerprint: str, lease_seconds: int, ttl_seconds: int
) -> Outcome:
    """Take ``key`` for a request, or say why not, in a transaction of its own (committed
    before the request runs, so every worker sees it)."""
    now = _now()
    for _ in range(_CLAIM_ROUNDS):
        now = _now()
        mine = uuid4().hex
        fresh = {
            "fingerprint": fingerprint,
            "state": RUNNING,
            "claim": mine,
            "lease_until": now + timedelta(seconds=lease_seconds),
            "status": None,
            "body": None,
            "content_type": None,
            "created_at": now,
            "expires_at": now + timedelta(seconds=ttl_seconds),
        }
        with _unflushed(engine) as conn:
            _purge_now_and_then(conn, now)
            if conn.execute(_insert_new(conn, {"token": token, "key": key, **fresh})).first():
                return Claimed(token, key, mine)
            row = conn.execute(select(keys).where(_this(token, key))).first()
            if row is None:  # its request failed and released it meanwhile: insert again
                continue
            if row.expires_at > now:
                if row.fingerprint != fingerprint:
                    return Reused()
                if row.state == DONE:
                    return Answered(row.status, bytes(row.body), row.content_type)
                if row.lease_until > now:
                    return InProgress(row.lease_until)
            # expired, or running under a lease that ran out (its process died before it
            # committed): taken over, unless another request takes it first
            stale = or_(
                keys.c.expires_at <= now, and_(keys.c.state == RUNNING, keys.c.lease_until <= now)
            )
            taken = conn.execute(update(keys).where(_this(token, key), stale).values(fresh))
            if taken.rowcount:
                return Claimed(token, key, mine)
    return InProgress(now)


def hold(session: Session, claimed: Claimed, lease_seconds: int) -> bool:
    """Renew the claim as the first statement of the request's transaction (locking the row
    until it commits); False if another request took the key over meanwhile."""
    lease_until = _now() + timedelta(seconds=lease_seconds)
    renewed = session.execute(update(keys).where(*_mine(claimed)).values(lease_until=lease_until))
    return bool(renewed.rowcount)  # type: ignore[attr-defined]


def finish(
    session: Session | Connection,
    claimed: Claimed,
    status: int,
    body: bytes,
    content_type: str | None,
    ttl_seconds: int,
) -> bool:
    """Store the request's answer, in its transaction (with its events, if it has one);
    False if the claim was lost (another request took the key over)."""
    done = session.execute(
        update(keys)
        .where(*_mine(claimed))
        .values(
            state=DONE,
            status=status,
            body=body,
            content_type=content_type,
            expires_at=_now() + timedelta(seconds=ttl_seconds),
        )
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


def release(engine: Engine, claimed: Claimed) -> None:
    """Give the key up after its request failed: a retry runs the request again."""
    with _unflushed(engine) as conn:
        conn.execute(delete(keys).where(*_mine(claimed)))


@contextmanager
def _unflushed(engine: Engine) -> Iterator[Connection]:
    """A transaction for a claim or a release, committed without waiting for the disk.

    Safe: the request's own transaction commits after the claim, and its flush (PostgreSQL's
    WAL, SQLite's WAL file: both written in order) makes everything before it durable too, the
    claim included. A crash can lose only a claim whose request had not committed either: a
    retry then finds no row and runs it. A lost release leaves a claim its lease frees. It
    saves a keyed write one of its two disk flushes.
    """
    with engine.connect() as conn:
        if conn.dialect.name != "sqlite":
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SET LOCAL synchronous_commit = off"))
                yield conn
            return
        # per connection, outside a transaction: set for this one, then as it was
        was = conn.exec_driver_sql("PRAGMA synchronous").scalar()
        conn.exec_driver_sql("PRAGMA synchronous=NORMAL")
        conn.commit()  # (SQLAlchemy's own autobegun transaction: SQLite opened none)
        try:
            with conn.begin():
                yield conn
        finally:
            conn.exec_driver_sql(f"PRAGMA synchronous={int(was or 2)}")
            conn.commit()


def _now() -> datetime:
    return datetime.now(UTC)


def _this(token: str, key: str) -> Any:
    return and_(keys.c.token == token, keys.c.key == key)


def _mine(claimed: Claimed) -> tuple[Any, ...]:
    return (
        _this(claimed.token, claimed.key),
        keys.c.claim == claimed.claim,
        keys.c.state == RUNNING,
    )


def _insert_new(conn: Connection, values: dict[str, Any]) -> Any:
    """An INSERT that does nothing if the key has a row (the primary key decides); it
    returns a row if it inserted one (psycopg reports no row count for it)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(keys).values(values).on_conflict_do_nothing().returning(keys.c.claim)


def _purge_now_and_then(conn: Connection, now: datetime) -> None:
    """Delete a batch of expired rows, at most once per ``PURGE_INTERVAL_SECONDS`` per
    process (rows locked by a request in progress are skipped on PostgreSQL)."""
    global _next_purge
    if time.monotonic() < _next_purge:
        return
    _next_purge = time.monotonic() + PURGE_INTERVAL_SECONDS
    expired = (
        select(keys.c.token, keys.c.key)
        .where(keys.c.expires_at <= now)
        .limit(PURGE_BATCH)
        .with_for_update(skip_locked=True)
    )
    conn.execute(delete(keys).where(tuple_(keys.c.token, keys.c.key).in_(expired)))
