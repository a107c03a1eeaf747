"""One handle per store URL per process: a read engine on first read, the write model on
first write.

Nothing is imported for either until it is used: reads need only SQLAlchemy and the read
tables, and the event-sourced application (and its imports) is built the first time
something is written, so ``from modelplane.client import Client`` and read-only commands stay
fast.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from . import config

if TYPE_CHECKING:
    from sqlalchemy import Connection
    from sqlalchemy.engine import Engine

    from modelplane.projections.projected_registry import ProjectedRegistry

_stores: dict[str, Store] = {}
_lock = threading.Lock()


class Store:
    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: Engine | None = None
        self._registry: ProjectedRegistry | None = None
        self._when_open: list[Callable[[ProjectedRegistry], None]] = []
        self._lock = threading.RLock()

    @classmethod
    def current(cls) -> Store:
        """The store the environment points at now."""
        url = config.store_url()
        with _lock:
            store = _stores.get(url)
            if store is None:
                store = _stores[url] = cls(url)
            return store

    @property
    def registry(self) -> ProjectedRegistry:
        if self._registry is None:
            with self._lock:
                if self._registry is None:
                    from modelplane.projections.projected_registry import open_registry

                    registry = open_registry(self.url)
                    for callback in self._when_open:
                        callback(registry)
                    self._registry = registry
        return self._registry

    def when_open(self, callback: Callable[[ProjectedRegistry], None]) -> None:
        """Call ``callback`` with the write model before its first use (at once if it is open
        already), without opening it: for what must hear of every commit (``head_watch``)."""
        with self._lock:
            if self._registry is None:
                self._when_open.append(callback)
                return
        callback(self._registry)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    from sqlalchemy import select
                    from sqlalchemy.exc import OperationalError, ProgrammingError

                    from modelplane.projections.engine import make_engine
                    from modelplane.projections.tables import FINGERPRINT, schema

                    engine = make_engine(self.url)
                    try:
                        with engine.connect() as conn:
                            found = conn.execute(select(schema.c.fingerprint)).scalar()
                    except (OperationalError, ProgrammingError):
                        found = None
                    if found != FINGERPRINT:
                        # a new store, or read tables from another version of modelplane:
                        # the write side creates them, or rebuilds them from the log
                        engine.dispose()
                        _ = self.registry
                    self._engine = engine
        return self._engine

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection to read the tables with: a pooled one of its own, or, inside
        ``registry.atomic()`` in this context (a keyed HTTP write), that transaction's own
        connection. The route then answers from what its command wrote, which commits only
        with the stored answer; another connection would not see it yet (and on SQLite
        would see the state before it)."""
        joined = self._registry.joined_connection() if self._registry is not None else None
        if joined is not None:
            yield joined
            return
        with self.engine.connect() as conn:
            yield conn

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        if self._registry is not None:
            self._registry.close()
            self._registry.engine.dispose()
        with _lock:
            if _stores.get(self.url) is self:
                del _stores[self.url]


def close_all() -> None:
    """Dispose every open store (tests switch stores between cases)."""
    for store in list(_stores.values()):
        store.close()
