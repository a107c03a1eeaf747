"""How a projection folds events into SQL: handlers queue statements, a batch runs them.

Handlers never read the tables they write: each event carries what its rows need, or the
statement reads it in SQL at a point of the batch where it is settled (``Batch.derive``,
``Batch.set_last``). That lets one code path serve both the inline fold of a single command
(a handful of statements) and a replay of a million events, where consecutive rows for the
same statement go to the database as one ``executemany``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from sqlalchemy import Connection, Executable, Insert, Table
from sqlalchemy.orm import Session


class Batch:
    """The statements folding a run of events produce, sent in as few round trips as possible.

    Every row a fold inserts is new (keyed by a new id or log position) and no insert depends
    on an update, so all inserts go first, one ``executemany`` per statement in event order;
    then the derived inserts (``INSERT ... SELECT`` reading rows the plain inserts may have
    just added); then the updates and deletes, in event order, consecutive ones of the same
    statement together (they may touch rows inserted by this batch); then updates that only
    move a counter or a high-water mark, or recompute a value from the settled rows, merged
    per row. The tables end as if each event had been applied alone.
    """

    def __init__(self) -> None:
        self._inserts: dict[Executable, list[dict[str, Any]]] = {}
        self._derived: dict[Executable, list[dict[str, Any]]] = {}
        self._runs: list[tuple[Executable, list[dict[str, Any]]]] = []
        self._merged: dict[Executable, dict[Any, dict[str, Any]]] = {}

    def add(self, statement: Executable, params: dict[str, Any]) -> None:
        if isinstance(statement, Insert):
            self._inserts.setdefault(statement, []).append(params)
        elif self._runs and self._runs[-1][0] is statement:
            self._runs[-1][1].append(params)
        else:
            self._runs.append((statement, [params]))

    def derive(self, statement: Insert, params: dict[str, Any]) -> None:
        """Queue an ``INSERT ... SELECT`` that reads rows of this batch's plain inserts.

        It runs after every plain insert and before any update or delete, so what it reads
        from an updated row is the value before this batch's updates: a later update in the
        batch must bring such copies up to date itself (a rename updates the name it copied).
        """
        self._derived.setdefault(statement, []).append(params)

    def add_to(self, statement: Executable, key: Any, field: str, params: dict[str, Any]) -> None:
        """Queue an increment of ``params[field]`` for row ``key``, summed with earlier ones."""
        rows = self._merged.setdefault(statement, {})
        if key in rows:
            rows[key][field] += params[field]
        else:
            rows[key] = dict(params)

    def set_last(self, statement: Executable, key: Any, params: dict[str, Any]) -> None:
        """Queue an update of row ``key`` where only the last one queued matters.

        Merged updates run last, so one that recomputes a value in SQL (the latest live
        version of a model) reads the rows as the whole batch leaves them.
        """
        self._merged.setdefault(statement, {})[key] = dict(params)

    def flush(self, session: Session | Connection) -> None:
        merged = [(statement, list(rows.values())) for statement, rows in self._merged.items()]
        queued = [*self._inserts.items(), *self._derived.items(), *self._runs, *merged]
        for statement, params in queued:
            session.execute(statement, params if len(params) > 1 else params[0])
        self._inserts.clear()
        self._derived.clear()
        self._runs.clear()
        self._merged.clear()

    def __len__(self) -> int:
        queued = [
            *self._inserts.values(),
            *self._derived.values(),
            *(params for _, params in self._runs),
        ]
        return sum(map(len, queued)) + sum(len(rows) for rows in self._merged.values())


class Projection:
    """A read view: its tables and the handlers that fold each event type into them."""

    #: Key of this projection's tracking row.
    name: ClassVar[str]
    #: Tables this projection owns (cleared on rebuild).
    tables: ClassVar[tuple[Table, ...]]

    def process_event(self, event: object, position: int, batch: Batch) -> None:
        """Queue the statements that fold ``event`` (at log ``position``) into the tables.

        Subclasses define it as an ``eventsourcing.dispatch.singledispatchmethod`` of their
        own, one handler per event type; events without a handler change nothing.
        """
        raise NotImplementedError

    def handler_for(self, event_type: type) -> Callable[[Any, int, Batch], None] | None:
        """The bound handler for an event type, or None if the projection ignores it.

        Looked up once per type: a replay folds every event through every projection, and
        going through the dispatching wrapper each time cost a sixth of it.
        """
        handlers: dict[type, Any] = self.__dict__.setdefault("_handlers", {})
        try:
            return handlers[event_type]  # type: ignore[no-any-return]
        except KeyError:
            pass
        method = type(self).__dict__.get("process_event")
        dispatcher = getattr(method, "dispatcher", None)
        if dispatcher is None:
            handler: Any = self.process_event
        else:
            found = dispatcher.dispatch(event_type)
            handler = None if found is method.func else found.__get__(self)  # type: ignore[union-attr]
        handlers[event_type] = handler
        return handler  # type: ignore[no-any-return]


def event_type(event: object) -> str:
    """A short stable name for an event, from its explicit topic (``Model.StageChanged``)."""
    topic: str = type(event).TOPIC  # type: ignore[attr-defined]
    return topic.split(":", 1)[1]
