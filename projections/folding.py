"""How a projection folds events into SQL: handlers queue statements, a batch runs them.

Handlers never read the tables they write: each event carries what its rows need. That lets
one code path serve both the inline fold of a single command (a handful of statements) and
a replay of a million events, where consecutive rows for the same statement go to the
database as one ``executemany``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import Connection, Executable, Table
from sqlalchemy.orm import Session


class Batch:
    """Statements to run in order; runs of the same statement are sent together."""

    def __init__(self) -> None:
        self._runs: list[tuple[Executable, list[dict[str, Any]]]] = []

    def add(self, statement: Executable, params: dict[str, Any]) -> None:
        if self._runs and self._runs[-1][0] is statement:
            self._runs[-1][1].append(params)
        else:
            self._runs.append((statement, [params]))

    def flush(self, session: Session | Connection) -> None:
        for statement, params in self._runs:
            session.execute(statement, params if len(params) > 1 else params[0])
        self._runs.clear()

    def __len__(self) -> int:
        return sum(len(params) for _, params in self._runs)


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


def event_type(event: object) -> str:
    """A short stable name for an event, from its explicit topic (``Model.StageChanged``)."""
    topic: str = type(event).TOPIC  # type: ignore[attr-defined]
    return topic.split(":", 1)[1]
