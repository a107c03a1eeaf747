"""What a store weighs: its bytes, its events and its snapshots, on SQLite and PostgreSQL.

Read straight from the database (not through modelplane), so the figures do not depend on
what the read side chooses to expose. Table names are the eventsourcing library's for the
application named ``modelplane``; the read tables' fingerprint table is ``mp_schema``.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

EVENTS_TABLE = "modelplane_events"
SNAPSHOTS_TABLE = "modelplane_snapshots"
SCHEMA_TABLE = "mp_schema"


def _sqlite_path() -> Path:
    return Path(os.environ["MODELPLANE_HOME"]) / "modelplane.db"


def _pg_url() -> str | None:
    return os.environ.get("MODELPLANE_STORE_URL")


def _pg(sql: str) -> list[tuple[Any, ...]]:
    """Rows of one statement on the PostgreSQL store (autocommit)."""
    import psycopg

    url = _pg_url()
    assert url is not None
    dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(dsn, autocommit=True) as conn:
        cursor = conn.execute(sql.encode())
        return list(cursor.fetchall()) if cursor.description is not None else []


def _sqlite(sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(_sqlite_path(), timeout=60) as conn:
        return list(conn.execute(sql).fetchall())


def refresh_statistics() -> None:
    """On PostgreSQL, what autovacuum does for a store that grew over days: ``ANALYZE``.

    A bulk seed grows a table 100-fold in seconds, before autovacuum's next look, and the
    planner then plans with the row counts of the smaller store (a first page of versions
    read as a bitmap scan and a sort of all 100,000: 32 ms, against 0.06 ms once analysed).
    SQLite keeps no statistics unless asked, and modelplane's queries are written for its
    planner without them, so nothing is done there.
    """
    if _pg_url() is not None:
        _pg("ANALYZE")


def store_bytes() -> int:
    """Bytes the store takes: the SQLite file and its WAL, or PostgreSQL's relations."""
    if _pg_url():
        rows = _pg(
            "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE c.relkind = 'r' AND n.nspname = 'public'"
        )
        return int(rows[0][0])
    path = _sqlite_path()
    wal = path.with_name(path.name + "-wal")
    return sum(p.stat().st_size for p in (path, wal) if p.exists())


def store_bytes_compact() -> int:
    """Bytes in use after a WAL checkpoint (SQLite; the same as :func:`store_bytes` on PG).

    The WAL of a bulk seed can hold a copy of many pages; checkpointing moves them into the
    file so the figure is the database's own size, free pages excluded.
    """
    if _pg_url():
        return store_bytes()
    with sqlite3.connect(_sqlite_path(), timeout=60) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        pages = int(conn.execute("PRAGMA page_count").fetchone()[0])
        free = int(conn.execute("PRAGMA freelist_count").fetchone()[0])
    return (pages - free) * page_size


def events() -> int:
    """Stored events (the log's rows; snapshots are not events)."""
    sql = f"SELECT COUNT(*) FROM {EVENTS_TABLE}"
    return int((_pg(sql) if _pg_url() else _sqlite(sql))[0][0])


def snapshots() -> dict[str, int]:
    """Count, total and largest state bytes of the stored snapshots."""
    length = "octet_length" if _pg_url() else "length"
    sql = (
        f"SELECT COUNT(*), COALESCE(SUM({length}(state)), 0), COALESCE(MAX({length}(state)), 0) "
        f"FROM {SNAPSHOTS_TABLE}"
    )
    count, total, largest = (_pg(sql) if _pg_url() else _sqlite(sql))[0]
    return {"count": int(count), "bytes": int(total), "largest_bytes": int(largest)}


def figures(empty_bytes: int = 0) -> dict[str, Any]:
    """Events, bytes and snapshots of the current store, with the per-event ratios.

    ``empty_bytes`` (what the store took before anything was written: its tables' first
    pages) is left out of the per-event figure, which would otherwise fall with size only
    because that fixed cost is shared by more events.
    """
    n = events()
    size = store_bytes_compact()
    snaps = snapshots()
    return {
        "events": n,
        "store_bytes": size,
        "empty_store_bytes": empty_bytes,
        "store_bytes_per_event": (size - empty_bytes) / n if n else None,
        "snapshots": snaps["count"],
        "snapshot_bytes": snaps["bytes"],
        "largest_snapshot_bytes": snaps["largest_bytes"],
        "snapshot_bytes_per_event": snaps["bytes"] / n if n else None,
    }


def make_read_tables_stale() -> None:
    """Make the read tables look built by another modelplane version (their fingerprint
    differs), so the next process that opens the store must rebuild them from the log."""
    sql = f"UPDATE {SCHEMA_TABLE} SET fingerprint = 'stale-bench-fingerprint'"
    if _pg_url():
        _pg(sql)
        return
    with sqlite3.connect(_sqlite_path(), timeout=60) as conn:
        conn.execute(sql)
