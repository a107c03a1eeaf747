"""eventsourcing_sqlalchemy, tuned for a registry that must not lose an acknowledged write.

The library builds one SQLAlchemy engine per application; the read tables live in the same
database and are written in the same transactions, so there is one engine per process.
On SQLite every connection gets WAL (readers never block the writer), ``synchronous=FULL``
(a commit is on disk before it returns) and a generous busy timeout (several processes may
write to one file). Snapshots keep only each aggregate's newest (:class:`SnapshotRecorder`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import AggregateRecorder, StoredEvent
from eventsourcing_sqlalchemy.datastore import SQLAlchemyDatastore
from eventsourcing_sqlalchemy.factory import SQLAlchemyFactory
from eventsourcing_sqlalchemy.recorders import (
    SQLAlchemyAggregateRecorder,
    SQLAlchemyApplicationRecorder,
)
from sqlalchemy import Connection, Engine, delete, event, insert
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


def _row(stored: StoredEvent) -> dict[str, Any]:
    """A stored event as the parameters of a Core INSERT into the library's tables."""
    return {
        "originator_id": stored.originator_id,
        "originator_version": stored.originator_version,
        "topic": stored.topic,
        "state": stored.state,
    }


#: ``info`` key: the (sub)transaction the log's table lock was taken in
_LOCKED_IN = "modelplane.log_locked_in"


class ApplicationRecorder(SQLAlchemyApplicationRecorder):
    """The library's recorder, appending with one Core INSERT ... RETURNING.

    Same table, same PostgreSQL table lock (commit order = position order) and NOTIFY; only
    the ORM unit of work is skipped, which was a quarter of the 1 ms a command may take.
    """

    def _lock_table(self, session: Session | Connection) -> None:
        """The library's table lock, once per transaction: ``clock.lock_and_date`` takes it
        before dating the events, and the append would take it again (a round trip for
        nothing). Rolling back a savepoint releases the locks taken inside it, so what is
        remembered is the (sub)transaction the lock was taken in."""
        current = session.get_nested_transaction() or session.get_transaction()
        if current is not None and session.info.get(_LOCKED_IN) is current:
            return
        super()._lock_table(session)  # type: ignore[arg-type]
        session.info[_LOCKED_IN] = current

    def _insert_stored_events(
        self, session: Session, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int]:
        if not stored_events:
            return []
        table = self.events_record_cls.__table__
        self._lock_table(session)
        rows = [_row(e) for e in stored_events]
        statement = insert(table).returning(table.c.id, sort_by_parameter_order=True)
        ids = [int(row[0]) for row in session.execute(statement, rows)]
        self._notify_channel(session)
        return ids


class SnapshotRecorder(SQLAlchemyAggregateRecorder):
    """The library's snapshot recorder, keeping only each aggregate's newest snapshot.

    The library never removes a snapshot, so a store kept every one ever taken (hundreds of
    megabytes for one large, busy aggregate), though only the newest is ever read:
    modelplane loads aggregates at their latest version (a load at an older one, which it
    never asks for, would replay from the first event; history is read from projections).
    Inserting a snapshot deletes that aggregate's older ones in the same transaction, both
    by the table's primary key (originator_id, originator_version), which is also what the
    newest is read by: reading costs what it did.

    A store written before this keeps its old rows until an aggregate's next snapshot
    prunes them, which is enough: an aggregate never snapshotted again costs disk, not
    time. The space freed is reused by later writes (SQLite's free pages, PostgreSQL's
    vacuumed tuples); files shrink only with ``VACUUM`` (PostgreSQL ``VACUUM FULL``).
    """

    def _insert_stored_events(
        self, session: Session, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        if not stored_events:
            return
        table = self.events_record_cls.__table__
        newest: dict[UUID | str, int] = {}
        for e in stored_events:
            newest[e.originator_id] = max(e.originator_version, newest.get(e.originator_id, 0))
        for originator_id, version in newest.items():
            session.execute(
                delete(table).where(
                    table.c.originator_id == originator_id,
                    table.c.originator_version < version,
                )
            )
        rows = [_row(e) for e in stored_events]
        session.execute(insert(table), rows)


class Factory(SQLAlchemyFactory):
    """Selected by ``PERSISTENCE_MODULE=projections.persistence:Factory``."""

    datastore_class = Datastore
    application_recorder_class = ApplicationRecorder
    snapshot_recorder_class = SnapshotRecorder

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        """The library's, with :class:`SnapshotRecorder` for snapshots (same table)."""
        if purpose != "snapshots":
            return super().aggregate_recorder(purpose)
        recorder = self.snapshot_recorder_class(
            datastore=self.datastore,
            events_table_name=f"{self.env.name.lower() or 'stored'}_snapshots",
            schema_name=self._schema_name,
            for_snapshots=True,
        )
        if self.env_create_table():
            recorder.create_table()
        return recorder
