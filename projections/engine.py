"""Engines for the read side, with the same SQLite settings as the write side.

Kept free of the event-sourcing imports so that a read-only process starts fast.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, create_engine, event, text
from sqlalchemy.engine import Engine

#: The PostgreSQL advisory lock that serialises creating and upgrading a store's tables
#: (any 64-bit key no other code in the database uses; advisory locks are per database).
SCHEMA_LOCK_KEY = 0x6D70_7363_6865_6D61  # "mpschema"

#: Milliseconds a writer waits for another process's write lock before failing.
SQLITE_BUSY_TIMEOUT_MS = 60_000


#: SQLite function: ``ILIKE`` as PostgreSQL folds case (SQLite's own ``LIKE`` folds ASCII only)
ILIKE_FUNCTION = "mp_ilike"


def sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL (readers never block the writer), FULL sync (a commit survives power loss), and
    the functions the read queries use."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.close()
        dbapi_connection.create_function(ILIKE_FUNCTION, 2, _ilike, deterministic=True)


def _ilike(value: str | None, pattern: str | None) -> bool | None:
    """``value ILIKE pattern`` (``%`` any run, ``_`` one character, no escape character),
    each character lowered on its own as PostgreSQL's ``lower`` does in a UTF-8 database.

    Linear in the value's length per ``%`` segment, never backtracking: a pattern such as
    ``%%%%%%%%b`` runs as fast as ``%b`` (a regular expression would take seconds, holding
    the interpreter).
    """
    if value is None or pattern is None:
        return None
    return like_matches(_fold(value), _fold(pattern))


def _fold(chars: str) -> str:
    return "".join(c.lower()[:1] for c in chars)


def like_matches(value: str, pattern: str) -> bool:
    """Whether ``value`` matches a ``LIKE`` pattern, case as given: the pattern's runs
    between ``%`` are found in order, the first anchored at the start and the last at the
    end unless a ``%`` frees them, each at its leftmost place (which is never wrong: a
    later run only needs room to its right)."""
    segments = pattern.split("%")
    if len(segments) == 1:
        return _fits(value, 0, pattern) and len(value) == len(pattern)
    first, *middle, last = segments
    if not _fits(value, 0, first):
        return False
    at = len(first)
    for segment in middle:
        found = _find(value, segment, at)
        if found < 0:
            return False
        at = found + len(segment)
    end = len(value) - len(last)
    return end >= at and _fits(value, end, last)


def _fits(value: str, at: int, segment: str) -> bool:
    """Whether ``segment`` (``_`` any one character) matches ``value`` at ``at``."""
    if at + len(segment) > len(value):
        return False
    return all(p == "_" or p == value[at + i] for i, p in enumerate(segment))


def _find(value: str, segment: str, start: int) -> int:
    for at in range(start, len(value) - len(segment) + 1):
        if _fits(value, at, segment):
            return at
    return -1


def make_engine(url: str) -> Engine:
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", sqlite_pragmas)
    return engine


@contextmanager
def schema_transaction(engine: Engine) -> Iterator[Connection]:
    """One transaction that no other process's schema transaction runs beside: create tables.

    The first use of a store creates its tables, and any number of processes may be first at
    once. A check-then-create (``CREATE TABLE`` after "does it exist?", as SQLAlchemy's
    ``checkfirst`` does) loses that race: "table already exists" on SQLite, a unique
    violation in PostgreSQL's catalog. So the check and the creation run in one transaction
    that holds a lock every other schema transaction waits for; the second process then finds
    the tables and creates nothing. The transaction also makes the creation (or an upgrade
    that drops and refolds the read tables) atomic: a reader sees the old tables or the new
    ones, never half of them, and a crash leaves no half-created store.

    PostgreSQL: DDL is transactional; ``pg_advisory_xact_lock`` serialises, released at
    commit or rollback (also when the process dies, with its connection).

    SQLite: ``BEGIN IMMEDIATE`` takes the database's write lock at the start, so the "does it
    exist?" check already runs under it (other processes wait up to the busy timeout). The
    driver's own transaction handling is switched off for this connection: pysqlite would
    otherwise run each ``CREATE``/``DROP`` outside any transaction (it only opens one before
    DML), which is what let one process drop or see half of another's tables. A file lock
    beside the database would serialise too, but needs a writable directory, leaves a file
    behind and still would not make the DDL atomic for readers.
    """
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
            yield conn
        return
    with engine.connect() as conn:
        if engine.dialect.name != "sqlite":  # no portable way to serialise: best effort
            with conn.begin():
                yield conn
            return
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")  # we issue BEGIN/COMMIT
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            raw = conn.connection.dbapi_connection
            if raw is not None and raw.in_transaction:  # SQLite may have rolled back already
                conn.exec_driver_sql("ROLLBACK")
            raise
        conn.exec_driver_sql("COMMIT")
