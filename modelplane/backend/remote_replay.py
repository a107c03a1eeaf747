"""``replay --into PATH`` against a server: the server's log, folded here into a local file.

The file must be what a replay on the server's machine would have written, so nothing here
folds anything: the pages of ``GET /log`` (the stored events, bodies untouched) stand in for
the log that ``modelplane.replay`` reads, and its own checks of the target, its build under a
temporary name and its marker row do the rest. The bound (a time, a position, or the head) is
resolved once by the server on the first page, so a replay reads one consistent past while
the server goes on appending.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from modelplane.domain.errors import ValidationError

from ..responses import ReplayResult
from .interface import Backend, LogPage, StoredEventRow

if TYPE_CHECKING:
    from eventsourcing.persistence import Mapper

    from ..store_handle import Store

#: events per request: replay folds pages of this size (``projections.log.PAGE_SIZE``)
PAGE_SIZE = 5_000


class ServerLog:
    """The server's log up to one bound, read the way ``projections.runner.rebuild`` reads
    an ``EventLog`` (``count``, ``pages``, ``head``; the connection it passes is unused).

    Made with the first page, so a caller without the admin role is refused before anything
    is written locally.
    """

    def __init__(self, backend: Backend, until: int | datetime | None) -> None:
        self._backend = backend
        self._first: LogPage | None = backend.read_log(0, until, PAGE_SIZE)
        #: the last position this replay covers, as the server resolved ``until``
        self.position = self._first.position
        self._total = self._first.remaining
        self._mapper: Mapper[Any] | None = None

    def head(self, _conn: object) -> int:
        return self.position

    def count(self, _conn: object, after: int, until: int | None) -> int:
        if after == 0 and until in (None, self.position):
            return self._total
        return self._backend.read_log(after, self._bound(until), 1).remaining

    def pages(
        self, _conn: object, after: int, until: int | None = None
    ) -> Iterator[list[tuple[int, object]]]:
        bound = self._bound(until)
        page, self._first = (self._first if after == 0 else None), None
        while True:
            if page is None:
                page = self._backend.read_log(after, bound, PAGE_SIZE)
            if not page.events:
                return
            yield [(row.position, self._decode(row)) for row in page.events]
            after, page = page.events[-1].position, None

    def _bound(self, until: int | None) -> int:
        return self.position if until is None else min(until, self.position)

    def _decode(self, row: StoredEventRow) -> object:
        from eventsourcing.persistence import StoredEvent
        from eventsourcing.utils import TopicError

        from modelplane.domain.serialization import OrjsonMapper

        if self._mapper is None:
            self._mapper = OrjsonMapper(compressor=None, cipher=None)
        stored = StoredEvent(
            originator_id=row.originator_id,
            originator_version=row.originator_version,
            topic=row.topic,
            state=row.state,
        )
        try:
            return self._mapper.to_domain_event(stored)
        except TopicError:
            msg = (
                f"The server's log holds an event this modelplane does not know ({row.topic} "
                f"at position {row.position}); upgrade modelplane to replay it here."
            )
            raise ValidationError(msg) from None


class _ServerStore:
    """What ``modelplane.replay`` reads of a store, for the server's log: its URL (recorded
    in the output's marker, never a local file to protect) and the log itself."""

    def __init__(self, url: str, log: ServerLog) -> None:
        self.url = url
        self.registry = self
        self.engine = self
        self.event_log = log

    def connect(self) -> contextlib.nullcontext[None]:
        return contextlib.nullcontext()


def replay_into(
    backend: Backend,
    until: int | datetime | None,
    into: str | Path,
    progress: Callable[[int, int], None] | None,
    overwrite: bool,
) -> ReplayResult:
    """``replay(store, until=, into=)`` of ``modelplane.replay``, over the server's log."""
    from modelplane import replay as local

    log = ServerLog(backend, until)
    store = cast("Store", _ServerStore(backend.location, log))
    path = Path(str(into))
    target = local.check_target(store, path, overwrite)
    started = time.perf_counter()
    limit = None if until is None else log.position
    count, head = local.build_file(store, path, target, limit, progress, overwrite)
    return ReplayResult(count, head, time.perf_counter() - started, str(into))
