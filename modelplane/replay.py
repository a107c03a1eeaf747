"""Replaying the log into read tables: the live ones, or a separate SQLite file to inspect."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from domain.errors import ValidationError
from projections import queries
from projections.engine import make_engine
from projections.runner import create_tables, rebuild

from .responses import ReplayResult
from .store import Store


def replay(
    store: Store,
    *,
    until: int | datetime | None = None,
    into: str | Path | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> ReplayResult:
    """Fold the log (up to ``until``) into fresh tables and report how fast it went.

    Into the live tables (always the whole log), it runs as one transaction holding the log's
    write lock: readers see the old tables until the new ones are complete, and writers wait.
    ``into`` a path builds a separate SQLite file holding only the read tables, up to
    ``until`` if given, which leaves the live store untouched.
    """
    if into is None and until is not None:
        msg = (
            "Replaying the live read tables up to a past point would make them disagree with "
            "the log (and later writes would act on the past); build the past into a separate "
            "file instead: --into PATH (into= in the SDK)."
        )
        raise ValidationError(msg)
    registry = store.registry
    log = registry.event_log
    with registry.engine.connect() as conn:
        limit = None if until is None else queries.position_at(conn, until)
    started = time.perf_counter()
    if into is None:
        with registry.transaction(commit=True) as session:
            registry.lock_log(session)  # writers wait until the new tables are complete
            count = rebuild(session, log, limit, progress)
            head = _head(log, session, limit)
        target = "live read tables"
    else:
        path = Path(into)
        if path.exists() and path.is_dir():
            msg = f"--into must be a file path, and {path} is a directory."
            raise ValidationError(msg)
        for stale in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            stale.unlink(missing_ok=True)
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = make_engine(f"sqlite:///{path}")
        try:
            with engine.begin() as out:
                create_tables(out)
            with engine.begin() as out, registry.engine.connect() as source:
                count = rebuild(out, log, limit, progress, source=source)
                head = _head(log, source, limit)
        finally:
            engine.dispose()
        target = str(path)
    return ReplayResult(count, head, time.perf_counter() - started, target)


def _head(log: object, conn: object, limit: int | None) -> int:
    head = log.head(conn)  # type: ignore[attr-defined]
    return head if limit is None else min(head, limit)
