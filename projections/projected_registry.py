"""Opening a store: the event-sourced application with its read tables beside it."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID

import sqlalchemy.exc
from eventsourcing.application import ProcessingEvent
from eventsourcing.persistence import IntegrityError, OperationalError, Recording
from eventsourcing_sqlalchemy.datastore import transactions
from sqlalchemy import Connection, Table, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from modelplane.domain.registry import Registry

from .clock import lock_and_date
from .engine import schema_transaction
from .generations import analyze, builds_online, upgrade_online
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
        # the library's own table creation is not safe for concurrent first use: the tables
        # are created in _upgrade_read_tables, under a lock (whatever env or os.environ say)
        super().__init__({**(env or {}), "CREATE_TABLE": "n"})
        datastore = self.recorder.datastore  # type: ignore[attr-defined]
        self.engine: Engine = datastore.engine
        table: Table = self.recorder.events_record_cls.__table__  # type: ignore[attr-defined]
        self.event_log = EventLog(table, self.mapper)
        self._upgrade_read_tables()
        #: The session of the save in progress (its events are dated under its lock).
        self._saving: Any = None
        #: Called after each committed save with the position reached (used by followers).
        self.on_commit: list[Callable[[int], None]] = []

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """Append the events, fold them into the read tables and move the tracking rows, in
        one transaction; tell ``on_commit`` the position reached once it has committed (and,
        on PostgreSQL, every process's head watcher: see :meth:`_notify_listeners`).

        Alone, a save is its own transaction. Inside a transaction already open in this
        context (:meth:`atomic`: a keyed HTTP write, whose stored answer commits with its
        events) it joins that one as a SAVEPOINT, and commits with it (``on_commit`` is told
        when :meth:`atomic` commits). A lost race then
        rolls back to the savepoint only, and ``run_command`` re-runs the command in the
        same transaction: PostgreSQL refuses every further statement of a transaction after
        an error, so without the savepoint the re-run could not append. The library raises
        SQLAlchemy's own errors from inside a joined transaction (it translates them only
        where a transaction ends): they are translated here, so the re-run happens.
        """
        outer = transactions.get(None)
        with self.recorder.transaction(commit=True) as session:  # type: ignore[attr-defined]
            savepoint = contextlib.nullcontext() if outer is None else _savepoint(session)
            with savepoint:
                self._saving = session
                try:
                    recordings = super().save(*objs, **kwargs)
                finally:
                    self._saving = None
                if recordings:
                    catch_up(session, self.event_log, recordings)
                    self._notify_listeners(session, int(recordings[-1].notification.id))
            if outer is not None and recordings:
                saved: set[UUID] = session.info.setdefault(_SAVED, set())
                saved.update(obj.id for obj in objs if hasattr(obj, "id"))
                session.info[_POSITION] = int(recordings[-1].notification.id)
        if recordings and outer is None:
            self._committed(int(recordings[-1].notification.id))
        return recordings

    def _committed(self, position: int) -> None:
        for callback in self.on_commit:
            callback(position)

    def _notify_listeners(self, session: Session, position: int) -> None:
        """On PostgreSQL, ``pg_notify`` the position on ``<log table>_head``, which
        ``modelplane.head_watch`` LISTENs on in every server process. Sent inside the
        transaction, it is delivered when the transaction commits, and never for one (or a
        savepoint) rolled back. (The library's own bare ``NOTIFY <log table>`` carries no
        position, which each listener would have to read back.)"""
        if self.engine.dialect.name == "postgresql":
            session.execute(
                text("SELECT pg_notify(:channel, :position)"),
                {"channel": f"{self.event_log.table.name}_head", "position": str(position)},
            )

    @contextlib.contextmanager
    def atomic(self) -> Iterator[Session]:
        """One transaction around several commands and whatever the caller writes beside
        them (a keyed HTTP write: its events and its stored answer), committed at the end.

        Every save inside joins it (see :meth:`save`), and reads through
        ``Store.read()`` in this context use its connection, so they see what it wrote
        before it commits. The command lock is taken first, then the transaction: a command
        holds that lock while its save opens a transaction (on SQLite that takes the
        datastore's write semaphore), so the reverse order here could deadlock against
        another thread's command. Everything runs in the calling thread, which holds the
        lock throughout. If anything fails, all of it rolls back, and the aggregates saved
        inside leave the cache (it would otherwise hold events the log never got).
        """
        with self._command_lock:
            session: Session | None = None
            try:
                with self.recorder.transaction(commit=True) as session:  # type: ignore[attr-defined]
                    yield session
            except BaseException:
                if session is not None:
                    self._evict(session.info.get(_SAVED, ()))
                raise
            if _POSITION in session.info:
                self._committed(session.info[_POSITION])

    def joined_connection(self) -> Connection | None:
        """The connection of the transaction open in this context (:meth:`atomic`), if any."""
        open_ = transactions.get(None)
        return None if open_ is None else open_.session.connection()

    def _evict(self, aggregate_ids: Any) -> None:
        cache = self.repository.cache
        if cache is None:
            return
        for aggregate_id in aggregate_ids:
            with contextlib.suppress(KeyError):
                cache.get(aggregate_id, evict=True)

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        """Date the events with the moment they become visible, under the write lock."""
        session = self._saving
        if session is not None and processing_event.events:
            at = lock_and_date(
                session, self.lock_log, self.engine.dialect.name, processing_event.events
            )
            created = {
                e.originator_id for e in processing_event.events if e.originator_version == 1
            }
            # the cached aggregates must read as a reload from the log would
            for aggregate_id, aggregate in processing_event.aggregates.items():
                vars(aggregate)["_modified_on"] = at
                if aggregate_id in created:
                    vars(aggregate)["_created_on"] = at
        return super()._record(processing_event)

    def _upgrade_read_tables(self) -> None:
        """Create the log's and the read tables, or rebuild the read tables if this code's differ.

        Any number of processes may open a new store at once. The library's own table
        creation (``CREATE_TABLE``, a check-then-create per table) is switched off in
        ``__init__`` because two processes both see "missing" and one fails. Instead the
        library's tables (its own ``Table`` objects, created as its ``create_table()`` does
        with ``checkfirst``) and the read tables are created here, in one
        :func:`~projections.engine.schema_transaction` that serialises across processes and
        re-checks under its lock, so the second process finds everything and creates nothing.
        (``recorder.create_table()`` itself cannot be used: it opens connections of its own,
        outside that transaction, and on SQLite would wait for the lock this one holds.)
        An existing, current store skips the lock (one look at the catalog and the
        fingerprint), so opening it never waits for other writers.

        Read tables of another version over a non-empty log are rebuilt beside the live ones
        and swapped in (:mod:`~projections.generations`): the processes already using the
        store go on reading and writing meanwhile. A new store, or one whose log is empty,
        gets its tables in place, in the schema transaction.
        """
        log_tables = self._log_tables()
        with self.engine.connect() as conn:
            if all(conn.dialect.has_table(conn, t.name, schema=t.schema) for t in log_tables) and (
                stored_fingerprint(conn) == FINGERPRINT
            ):
                return
        with schema_transaction(self.engine) as conn:
            for table in log_tables:
                table.create(conn, checkfirst=True)
            stored = stored_fingerprint(conn)
            if stored == FINGERPRINT:
                return
            in_place = (
                stored is None or self.event_log.head(conn) == 0 or not builds_online(self.engine)
            )
            if in_place:
                self.lock_log(conn)  # live writers (already past their first use) wait too
                refolded = upgrade(conn, self.event_log) and self.event_log.head(conn) > 0
        if not in_place:
            upgrade_online(self.engine, self.event_log, self.lock_log)
        elif refolded:
            analyze(self.engine)

    def _log_tables(self) -> list[Table]:
        """The tables the event-sourcing library defines: the events' and the snapshots'."""
        tables: list[Table] = list(self.recorder.tables)  # type: ignore[attr-defined]
        if self.snapshots is not None:
            tables += self.snapshots.recorder.tables  # type: ignore[attr-defined]
        return tables

    def lock_log(self, session: Any) -> None:
        """Hold the log's write lock for the rest of the transaction (as every append does).

        On PostgreSQL this is the library's ``LOCK TABLE ... IN EXCLUSIVE MODE``; on SQLite the
        transaction's first write takes the database's single write lock anyway.
        """
        self.recorder._lock_table(session)  # type: ignore[attr-defined]

    def transaction(self, commit: bool = False) -> Any:
        """A session in the application's own transaction machinery (joined if one is open)."""
        return self.recorder.transaction(commit=commit)  # type: ignore[attr-defined]


#: ``session.info`` keys: the aggregates saved inside an outer transaction (evicted if it
#: fails) and the position its last save reached (``on_commit`` is told once it commits)
_SAVED = "modelplane.saved"
_POSITION = "modelplane.position"


@contextlib.contextmanager
def _savepoint(session: Session) -> Iterator[None]:
    """A SAVEPOINT in the open transaction, rolled back to if the block fails.

    On SQLite the transaction must have begun first: pysqlite opens one only before a data
    change, and a SAVEPOINT outside a transaction starts one that its RELEASE commits.
    """
    connection = session.connection()
    if connection.dialect.name == "sqlite":
        raw = connection.connection.dbapi_connection
        if raw is not None and not raw.in_transaction:  # type: ignore[attr-defined]
            connection.execute(text("BEGIN"))
    try:
        with session.begin_nested():
            yield
    except sqlalchemy.exc.IntegrityError as error:
        raise IntegrityError(error) from error
    except sqlalchemy.exc.OperationalError as error:
        raise OperationalError(error) from error


def open_registry(url: str) -> ProjectedRegistry:
    """Open (creating if needed) the store at a SQLAlchemy URL.

    ``CREATE_TABLE`` is off: the library would create its tables unserialised, racing other
    processes opening the same new store; ``ProjectedRegistry`` creates them under a lock.
    """
    env = {
        "PERSISTENCE_MODULE": "modelplane.projections.persistence:Factory",
        "SQLALCHEMY_URL": url,
        "CREATE_TABLE": "n",
    }
    return ProjectedRegistry(env=env)
