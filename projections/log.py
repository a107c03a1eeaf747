"""Reading the event log straight from its table: the one reader, for folding and auditing.

The library's notification log pages at most ``log_section_size`` rows through ORM objects;
replay wants thousands of rows a page through SQLAlchemy Core (anchors: 10-row pages cut
scan speed to a third), so this reads the same table the library writes. A reader that only
lists events (``Client().list_events``) opens the table by name: it needs neither the
library's table object nor its mapper, so reading never imports the event-sourcing library.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import (
    Connection,
    Dialect,
    LargeBinary,
    TableClause,
    TypeDecorator,
    column,
    func,
    select,
    table,
    type_coerce,
)

if TYPE_CHECKING:
    from eventsourcing.persistence import Mapper
    from sqlalchemy.orm import Session

PAGE_SIZE = 5_000


class _RawUUID(TypeDecorator[UUID]):
    """UUIDs as stored: 16 bytes on SQLite, native ``uuid`` on PostgreSQL."""

    impl = LargeBinary
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> Any:
        if dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import UUID as PGUUID

            return dialect.type_descriptor(PGUUID(as_uuid=True))
        return dialect.type_descriptor(LargeBinary())

    def process_result_value(self, value: Any, dialect: Dialect) -> UUID | None:
        return _to_uuid(value)


def _to_uuid(value: Any) -> Any:
    """A stored originator id as a UUID (16 bytes on SQLite, ``uuid`` on PostgreSQL)."""
    if value is None or isinstance(value, UUID):
        return value
    if isinstance(value, (bytes, memoryview)) and len(value) == 16:
        return UUID(bytes=bytes(value))
    return UUID(str(value))


class EventLog:
    """Positions, raw rows and (given the application's mapper) decoded events of its log."""

    def __init__(self, table: TableClause, mapper: Mapper[UUID] | None = None) -> None:
        self.table = table
        self.mapper = mapper
        if mapper is not None:
            from eventsourcing.persistence import StoredEvent

            self._stored_event = StoredEvent
        # The id column's type (sqlalchemy_utils.UUIDType) converts each value slowly;
        # read it raw and convert here, as replay reads every row of the log.
        self._columns = (
            table.c.id,
            type_coerce(table.c.originator_id, _RawUUID()),
            table.c.originator_version,
            table.c.topic,
            table.c.state,
        )
        self._page_sqls: dict[tuple[str, bool], str] = {}

    @classmethod
    def named(cls, table_name: str) -> EventLog:
        """The log table of that name, for reading raw rows (``decode`` needs the mapper)."""
        columns = ("id", "originator_id", "originator_version", "topic", "state")
        return cls(table(table_name, *(column(name) for name in columns)))

    def head(self, conn: Session | Connection) -> int:
        """The highest position in the log (0 when empty)."""
        return int(conn.execute(select(func.max(self.table.c.id))).scalar() or 0)

    def count(self, conn: Session | Connection, after: int, until: int | None) -> int:
        query = select(func.count()).select_from(self.table).where(self.table.c.id > after)
        if until is not None:
            query = query.where(self.table.c.id <= until)
        return int(conn.execute(query).scalar() or 0)

    def rows(
        self,
        conn: Session | Connection,
        after: int,
        until: int | None = None,
        limit: int = PAGE_SIZE,
    ) -> list[Any]:
        """Raw rows (position, originator_id, originator_version, topic, state), in order."""
        query = select(*self._columns).where(self.table.c.id > after)
        if until is not None:
            query = query.where(self.table.c.id <= until)
        return list(conn.execute(query.order_by(self.table.c.id).limit(limit)))

    def rows_at(self, conn: Session | Connection, positions: Sequence[int]) -> list[Any]:
        """Raw rows at these positions (those that exist), in order."""
        if not positions:
            return []
        query = select(*self._columns).where(self.table.c.id.in_(positions))
        return list(conn.execute(query.order_by(self.table.c.id)))

    def page(
        self,
        conn: Session | Connection,
        after: int,
        until: int | None = None,
        limit: int = PAGE_SIZE,
    ) -> list[tuple[int, object]]:
        """Decoded (position, event) pairs after ``after`` (up to ``until``): about ``limit``,
        and never part of a transaction's events.

        A page ends where a transaction does (its events share one timestamp,
        ``projections.clock``), however many events past ``limit`` that takes: the events
        of one transaction are folded in one batch, as they were when written, where a
        fold may update a row that an insert later in the same transaction creates (a
        version created with a stage). Only ``until`` may cut a transaction.

        Sent as plain SQL and read without SQLAlchemy's result processing, which took more
        of a replay than the rows' decoding.
        """
        connection = conn if isinstance(conn, Connection) else conn.connection()
        page = self._decoded(connection, after, until, limit)
        if len(page) < limit:
            return page  # the head (or ``until``): transactions are never seen in part
        last = getattr(page[-1][1], "timestamp", None)
        more = 64
        while last is not None:
            rest = self._decoded(connection, page[-1][0], until, more)
            same = [item for item in rest if getattr(item[1], "timestamp", None) == last]
            page += same
            if len(same) < len(rest) or len(rest) < more:
                break
            more *= 4
        return page

    def _decoded(
        self, connection: Connection, after: int, until: int | None, limit: int
    ) -> list[tuple[int, object]]:
        sql, params = self._page_sql(connection.dialect, after, until, limit)
        rows = connection.exec_driver_sql(sql, params).all()
        if self.mapper is None:
            raise TypeError("This EventLog was opened by name: it has no mapper to decode with.")
        to_domain_event = self.mapper.to_domain_event
        stored_event = self._stored_event
        # an aggregate's events sit close together: convert each originator id once a page
        ids: dict[Any, UUID] = {}
        page: list[tuple[int, object]] = []
        for position, raw_id, version, topic, state in rows:
            originator_id = ids.get(raw_id) if isinstance(raw_id, bytes) else raw_id
            if originator_id is None:
                originator_id = ids[raw_id] = _to_uuid(raw_id)
            elif not isinstance(originator_id, UUID):
                originator_id = _to_uuid(originator_id)
            stored = stored_event(
                originator_id=originator_id,
                originator_version=version,
                topic=topic,
                state=bytes(state) if isinstance(state, memoryview) else state,
            )
            page.append((int(position), to_domain_event(stored)))
        return page

    def _page_sql(
        self, dialect: Dialect, after: int, until: int | None, limit: int
    ) -> tuple[str, tuple[int, ...]]:
        mark = "?" if dialect.paramstyle == "qmark" else "%s"
        key = (dialect.name, until is None)
        sql = self._page_sqls.get(key)
        if sql is None:
            quote = dialect.identifier_preparer.quote
            table = dialect.identifier_preparer.format_table(self.table)  # type: ignore[arg-type]
            columns = ", ".join(
                quote(c) for c in ("id", "originator_id", "originator_version", "topic", "state")
            )
            bound = "" if until is None else f" AND {quote('id')} <= {mark}"
            sql = self._page_sqls[key] = (
                f"SELECT {columns} FROM {table} WHERE {quote('id')} > {mark}{bound} "
                f"ORDER BY {quote('id')} LIMIT {mark}"
            )
        return sql, (after, limit) if until is None else (after, until, limit)

    def decode(self, row: Any) -> object:
        if self.mapper is None:
            raise TypeError("This EventLog was opened by name: it has no mapper to decode with.")
        state = row[4]
        originator_id = row[1]
        if not isinstance(originator_id, UUID):  # SQLite's 16 bytes, read raw
            originator_id = _to_uuid(originator_id)
        return self.mapper.to_domain_event(
            self._stored_event(
                originator_id=originator_id,
                originator_version=row[2],
                topic=row[3],
                state=bytes(state) if isinstance(state, memoryview) else state,
            )
        )

    def pages(
        self, conn: Session | Connection, after: int, until: int | None = None
    ) -> Iterator[list[tuple[int, object]]]:
        """Decoded (position, event) pairs after ``after`` up to ``until``, a page at a time."""
        while True:
            page = self.page(conn, after, until, PAGE_SIZE)
            if not page:
                return
            yield page
            after = page[-1][0]
