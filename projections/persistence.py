"""eventsourcing_sqlalchemy, tuned for a registry that must not lose an acknowledged write.

The library builds one SQLAlchemy engine per application; the read tables live in the same
database and are written in the same transactions, so there is one engine per process.
On SQLite every connection gets WAL (readers never block the writer), ``synchronous=FULL``
(a commit is on disk before it returns) and a generous busy timeout (several processes may
write to one file).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing_sqlalchemy.datastore import SQLAlchemyDatastore
from eventsourcing_sqlalchemy.factory import SQLAlchemyFactory
from eventsourcing_sqlalchemy.recorders import SQLAlchemyApplicationRecorder
from sqlalchemy import Engine, event, insert
from sqlalchemy.orm import Session

from .engine import sqlite_pragmas


class Datastore(SQLAlchemyDatastore):
    """The library's datastore, with durable SQLite settings on every connection."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        engine = self.engine
        if isinstance(engine, Engine) and engine.dialect.name == "sqlite":
            event.listen(engine, "connect", sqlite_pragmas)
            engine.dispose()  # connections opened before the listener lack the pragmas


class ApplicationRecorder(SQLAlchemyApplicationRecorder):
    """The library's recorder, appending with one Core INSERT ... RETURNING.

    Same table, same PostgreSQL table lock (commit order = position order) and NOTIFY; only
    the ORM unit of work is skipped, which was a quarter of the 1 ms a command may take.
    """

    def _insert_stored_events(
        self, session: Session, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int]:
        if not stored_events:
            return []
        table = self.events_record_cls.__table__
        self._lock_table(session)
        rows = [
            {
                "originator_id": e.originator_id,
                "originator_version": e.originator_version,
                "topic": e.topic,
                "state": e.state,
            }
            for e in stored_events
        ]
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        ids = [int(row[0]) for row in session.execute(statement, rows)]
        self._notify_channel(session)
        return ids


class Factory(SQLAlchemyFactory):
    """Selected by ``PERSISTENCE_MODULE=projections.persistence:Factory``."""

    datastore_class = Datastore
    application_recorder_class = ApplicationRecorder
