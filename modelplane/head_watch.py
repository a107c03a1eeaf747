"""The log's head, watched once per server process: what the event streams and the webhook
deliverer wait on, instead of each reading the log on a timer of its own.

The head moves when a save commits, and the watcher learns of it

- from this process's own saves at once: ``ProjectedRegistry.on_commit`` (attached when the
  write side opens; watching never opens it);
- from other processes' saves, on PostgreSQL (psycopg): each save's ``pg_notify`` of its
  position on ``<log table>_head`` (``ProjectedRegistry._notify_listeners``), which
  PostgreSQL delivers at commit (never for a rolled-back save) to the one ``LISTEN``
  connection this watcher holds in a thread, reconnecting when it drops. The head is read
  again after every (re)connection and every ``MODELPLANE_LOG_SAFETY_POLL_SECONDS`` (1 s),
  in case a notification was missed;
- on SQLite, which has no notifications between processes (and on any other driver), by
  reading the head every ``MODELPLANE_LOG_POLL_SECONDS`` (0.025 s): one query per process
  however many subscribers it serves.

A wake-up is only a hint to look now. Waiters read the log after their own last position, as
they did when they polled, so a lost or spurious wake-up costs time, never an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from . import config

if TYPE_CHECKING:
    from fastapi import FastAPI
    from psycopg import Connection

    from modelplane.projections.projected_registry import ProjectedRegistry
    from modelplane.store_handle import Store

logger = logging.getLogger("modelplane.head_watch")

#: seconds between head reads where no notification reaches this process (SQLite)
DEFAULT_POLL_SECONDS = 0.025
#: seconds between head reads beside LISTEN (PostgreSQL): only for a missed notification
DEFAULT_SAFETY_POLL_SECONDS = 1.0
#: the longest a LISTEN wait runs before the thread looks whether it must stop
STOP_CHECK_SECONDS = 0.5
#: seconds before a dropped LISTEN connection (or a failed head read) is tried again
RETRY_SECONDS = 1.0
#: the LISTEN connection's ``application_name`` (what ``pg_stat_activity`` shows)
LISTENER_NAME = "modelplane-head-watch"


def install(app: FastAPI, store: Store) -> HeadWatcher:
    """The watcher of ``store`` for this server process: told of its commits once the write
    side opens, started by its first waiter, stopped at shutdown. Settings are read now: a
    bad one stops the start."""
    watcher = HeadWatcher.from_environment(store)
    store.when_open(watcher.attach)

    @app.on_event("shutdown")
    def stop_watching() -> None:
        watcher.stop()

    return watcher


def _seconds(variable: str, default: float) -> float:
    raw = os.environ.get(variable)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 86_400:
        raise config.ConfigError(f"{variable} must be seconds in (0, 86400], not {raw!r}.")
    return value


class HeadWatcher:
    """The highest log position this process knows committed, and who waits for it to move."""

    def __init__(self, store: Store, poll: float, safety_poll: float) -> None:
        self.store = store
        self.poll = poll
        self.safety_poll = safety_poll
        self._head = 0
        self._changed = threading.Condition()
        #: per event loop, the futures of the streams waiting on it (resolved in that loop)
        self._waiting: dict[asyncio.AbstractEventLoop, set[asyncio.Future[None]]] = {}
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_environment(cls, store: Store) -> HeadWatcher:
        return cls(
            store,
            poll=_seconds("MODELPLANE_LOG_POLL_SECONDS", DEFAULT_POLL_SECONDS),
            safety_poll=_seconds("MODELPLANE_LOG_SAFETY_POLL_SECONDS", DEFAULT_SAFETY_POLL_SECONDS),
        )

    @property
    def head(self) -> int:
        """The highest position known committed (0 before the first look)."""
        return self._head

    @property
    def stopped(self) -> bool:
        """Whether :meth:`stop` was called (the server is shutting down)."""
        return self._stopping.is_set()

    @property
    def listens(self) -> bool:
        """Whether other processes' commits are notified (PostgreSQL through psycopg)."""
        from sqlalchemy.engine import make_url

        url = make_url(self.store.url)
        return url.get_backend_name() == "postgresql" and url.get_driver_name() == "psycopg"

    def attach(self, registry: ProjectedRegistry) -> None:
        """Hear of every save the write side commits (``Store.when_open`` calls this)."""
        registry.on_commit.append(self.advance)

    # ------------------------------------------------------------------ moving

    def advance(self, position: int) -> None:
        """``position`` committed: wake whoever waits for the head to pass what it has seen.

        Called from any thread (a saving one, the watcher's); cheap, and never raises.
        """
        with self._changed:
            if position <= self._head:
                return
            self._head = position
            self._changed.notify_all()
            loops = [loop for loop, futures in self._waiting.items() if futures]
        for loop in loops:
            with contextlib.suppress(RuntimeError):  # that loop has closed meanwhile
                loop.call_soon_threadsafe(self._wake, loop)

    def _wake(self, loop: asyncio.AbstractEventLoop) -> None:
        """In ``loop``: resolve every future waiting there (each waiter checks the head)."""
        with self._changed:
            futures = self._waiting.pop(loop, set())
        for future in futures:
            if not future.done():
                future.set_result(None)

    # ----------------------------------------------------------------- waiting

    def wait(
        self, beyond: int, timeout: float, interrupted: Callable[[], bool] | None = None
    ) -> bool:
        """Block until the head passes ``beyond`` (True), ``timeout`` passes, the watcher
        stops or ``interrupted()`` holds after a :meth:`nudge` (False)."""
        self.start()
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._head <= beyond:
                left = deadline - time.monotonic()
                if left <= 0 or self._stopping.is_set() or (interrupted and interrupted()):
                    return False
                self._changed.wait(left)
            return True

    def nudge(self) -> None:
        """Wake the threads in :meth:`wait`, so that they look at ``interrupted`` again."""
        with self._changed:
            self._changed.notify_all()

    async def changed(self, beyond: int, timeout: float) -> bool:
        """Await the head passing ``beyond`` (True), or ``timeout`` or the stop (False)."""
        self.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            future: asyncio.Future[None] = loop.create_future()
            with self._changed:
                if self._head > beyond:
                    return True
                left = deadline - loop.time()
                if left <= 0 or self._stopping.is_set():
                    return False
                # registered under the lock that ``advance`` takes: no move is missed
                self._waiting.setdefault(loop, set()).add(future)
            try:
                await asyncio.wait((future,), timeout=left)
            finally:
                with self._changed:
                    futures = self._waiting.get(loop)
                    if futures is not None:
                        futures.discard(future)
                        if not futures:
                            del self._waiting[loop]

    # ------------------------------------------------------------- the thread

    def start(self) -> None:
        """Start watching, once (the first waiter does; so a server nobody follows and that
        delivers no webhooks never reads the head)."""
        if self._thread is not None:
            return
        with self._changed:
            if self._thread is None and not self._stopping.is_set():
                run = self._listen if self.listens else self._poll
                self._thread = threading.Thread(target=run, name="modelplane-head", daemon=True)
                self._thread.start()

    def stop(self, wait: float = 2.0) -> None:
        """Stop watching, and wake every waiter (each finds it must stop, or reads once more)."""
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()
            loops = list(self._waiting)
        for loop in loops:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._wake, loop)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(wait)

    def _read_head(self) -> None:
        from modelplane.backend.local import EVENTS_TABLE
        from modelplane.projections.log import EventLog

        with self.store.read() as conn:
            self.advance(EventLog.named(EVENTS_TABLE).head(conn))

    def _poll(self) -> None:
        """SQLite: the head, read every ``poll`` seconds."""
        failing = False
        while not self._stopping.is_set():
            try:
                self._read_head()
                failing = False
            except Exception:  # a store gone for a moment: the next read tries again
                if not failing:
                    logger.exception("reading the log's head failed")
                failing = True
            self._stopping.wait(RETRY_SECONDS if failing else self.poll)

    def _listen(self) -> None:
        """PostgreSQL: the positions notified on the log's channel, and a slow safety poll."""
        failing = False
        while not self._stopping.is_set():
            try:
                with self._listening() as connection:
                    self._read_head()  # what committed before LISTEN took effect
                    failing = False
                    self._hear(connection)
            except Exception:  # the database restarted, the connection dropped: again
                if not failing:
                    logger.exception("listening for the log's commits failed")
                failing = True
            self._stopping.wait(RETRY_SECONDS)

    @contextlib.contextmanager
    def _listening(self) -> Iterator[Connection[Any]]:
        """A psycopg connection of its own (not the pool's) that LISTENs on the log's channel,
        opened with the store URL's settings; closed when the block ends."""
        from psycopg import sql
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        from modelplane.backend.local import EVENTS_TABLE

        engine = create_engine(
            self.store.url, poolclass=NullPool, connect_args={"application_name": LISTENER_NAME}
        )
        try:
            raw = engine.raw_connection()
            try:
                connection = raw.driver_connection
                assert connection is not None  # a live connection: it was just opened
                connection.autocommit = True
                channel = sql.Identifier(f"{EVENTS_TABLE}_head")  # as the saves notify it
                connection.execute(sql.SQL("LISTEN {}").format(channel))
                yield connection
            finally:
                raw.close()
        finally:
            engine.dispose()

    def _hear(self, connection: Connection[Any]) -> None:
        """Advance to each notified position until the watcher stops (or the connection
        fails: the caller reconnects); read the head every ``safety_poll`` seconds."""
        next_read = time.monotonic() + self.safety_poll
        while not self._stopping.is_set():
            left = max(0.001, min(STOP_CHECK_SECONDS, next_read - time.monotonic()))
            for note in connection.notifies(timeout=left):
                try:
                    self.advance(int(note.payload))
                except ValueError:  # not a save's notification: look for itself
                    next_read = 0.0
            if time.monotonic() >= next_read:
                self._read_head()
                next_read = time.monotonic() + self.safety_poll
