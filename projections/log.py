"""Reading the event log straight from its table, in pages, for folding and for auditing.

The library's notification log pages at most ``log_section_size`` rows through ORM objects;
replay wants thousands of rows a page through SQLAlchemy Core (anchors: 10-row pages cut
scan speed to a third), so this reads the same table the library writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Mapper, StoredEvent
from sqlalchemy import (
    Connection,
    Dialect,
    LargeBinary,
    Table,
    TypeDecorator,
    func,
    select,
    type_coerce,
)
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
        if value is None or isinstance(value, UUID):
            return value
        if isinstance(value, (bytes, memoryview)) and len(value) == 16:
            return UUID(bytes=bytes(value))
        return UUID(str(value))


class EventLog:
    """Positions and decoded events of the application's log table."""

    def __init__(self, table: Table, mapper: Mapper[UUID]) -> None:
        self.table = table
        self.mapper = mapper
        # The id column's type (sqlalchemy_utils.UUIDType) converts each value slowly;
        # read it raw and convert here, as replay reads every row of the log.
        self._columns = (
            table.c.id,
            type_coerce(table.c.originator_id, _RawUUID()),
            table.c.originator_version,
            table.c.topic,
            table.c.state,
        )

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

    def decode(self, row: Any) -> object:
        state = row[4]
        return self.mapper.to_domain_event(
            StoredEvent(
                originator_id=row[1],
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
            rows = self.rows(conn, after, until)
            if not rows:
                return
            yield [(int(row[0]), self.decode(row)) for row in rows]
            after = int(rows[-1][0])
