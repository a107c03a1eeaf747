"""Opening a store: the event-sourced application with its read tables beside it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError, OperationalError, Recording
from sqlalchemy import Table
from sqlalchemy.engine import Engine

from domain.registry import Registry

from .log import EventLog
from .runner import catch_up, stored_fingerprint, upgrade
from .tables import FINGERPRINT


class ProjectedRegistry(Registry):
    """The registry whose every save also folds the new events into the read tables.

    The append, the projection rows and the tracking rows commit in one transaction: a
    reader never sees an event without its projection, nor the reverse.
    """

    name = Registry.name  # the library would otherwise name the tables after this subclass

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env)
        datastore = self.recorder.datastore  # type: ignore[attr-defined]
        self.engine: Engine = datastore.engine
        table: Table = self.recorder.events_record_cls.__table__  # type: ignore[attr-defined]
        self.event_log = EventLog(table, self.mapper)
        self._upgrade_read_tables()
        #: Called after each committed save with the position reached (used by followers).
        self.on_commit: list[Callable[[int], None]] = []

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        with self.recorder.transaction(commit=True) as session:  # type: ignore[attr-defined]
            recordings = super().save(*objs, **kwargs)
            if recordings:
                catch_up(session, self.event_log, recordings)
        if recordings:
            for callback in self.on_commit:
                callback(int(recordings[-1].notification.id))
        return recordings

    def _upgrade_read_tables(self) -> None:
        """Create the read tables, or rebuild them from the log if this code's differ.

        Another process may be doing the same: the work runs under the log's write lock and
        re-checks there; a SQLite reader that raced the upgrade simply tries again.
        """
        with self.engine.connect() as conn:
            if stored_fingerprint(conn) == FINGERPRINT:
                return
        for attempt in range(10):
            try:
                with self.transaction(commit=True) as session:
                    self.lock_log(session)
                    upgrade(session, self.event_log)
                return
            except (OperationalError, IntegrityError):
                if attempt == 9:
                    raise
                time.sleep(0.05 * (attempt + 1))

    def lock_log(self, session: Any) -> None:
        """Hold the log's write lock for the rest of the transaction (as every append does).

        On PostgreSQL this is the library's ``LOCK TABLE ... IN EXCLUSIVE MODE``; on SQLite the
        transaction's first write takes the database's single write lock anyway.
        """
        self.recorder._lock_table(session)  # type: ignore[attr-defined]

    def transaction(self, commit: bool = False) -> Any:
        """A session in the application's own transaction machinery (joined if one is open)."""
        return self.recorder.transaction(commit=commit)  # type: ignore[attr-defined]


def open_registry(url: str) -> ProjectedRegistry:
    """Open (creating if needed) the store at a SQLAlchemy URL."""
    env = {
        "PERSISTENCE_MODULE": "projections.persistence:Factory",
        "SQLALCHEMY_URL": url,
        "CREATE_TABLE": "y",
    }
    return ProjectedRegistry(env=env)
