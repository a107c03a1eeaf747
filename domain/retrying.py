"""Commands that re-run after losing an optimistic-concurrency race, over a trusted cache.

The event store refuses an append at a version another writer already appended
(``IntegrityError``); a busy SQLite file refuses a write (``OperationalError``). Either way
the command re-runs on fresh state, so an invariant is checked against what is really in
the log. Aggregates are cached in-process and served without a database round trip (no
deepcopy, no fast-forward): a stale copy cannot do harm, because a command that saves it
conflicts with the newer events and is re-run. Commands run one at a time per process (the
database serialises appends anyway), and every aggregate a failed attempt loaded or saved
is evicted, so no half-applied change survives in the cache.
"""

from __future__ import annotations

import contextlib
import functools
import random
import threading
import time
from collections.abc import Callable
from typing import Any, Concatenate, ParamSpec, TypeVar
from uuid import UUID

from eventsourcing.application import (
    AggregateNotFoundError,
    Application,
    ProcessingEvent,
    Repository,
)
from eventsourcing.domain import CanMutateProtocol, CollectEventsProtocol
from eventsourcing.persistence import IntegrityError, OperationalError, ProgrammingError, Recording

from .errors import ConcurrencyError

__all__ = ["MAX_ATTEMPTS", "RetryingApplication", "command"]

#: How often a command is re-run after losing a race before giving up.
MAX_ATTEMPTS = 50

T = TypeVar("T")
P = ParamSpec("P")
A = TypeVar("A", bound="RetryingApplication")


def command(method: Callable[Concatenate[A, P], T]) -> Callable[Concatenate[A, P], T]:
    """Make an application method a command: all of it re-runs after a lost race.

    The whole method re-runs (argument checks included: they are pure), so a command reads
    as load, call, save, with no retry loop of its own.
    """

    @functools.wraps(method)
    def retried(app: A, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return app.run_command(lambda: method(app, *args, **kwargs))

    return retried


class RetryingApplication(Application[UUID]):
    """An application whose ``@command`` methods re-run on a lost race (see the module)."""

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env)
        self._command_lock = threading.RLock()
        self._touched: set[UUID] = set()
        #: The attempt of the command in progress (0 first), None between commands.
        self._attempt: int | None = None
        #: Whether the attempt in progress appended anything.
        self._saved = False
        # For aggregates never snapshotted: the library's repository, sharing the cache,
        # without the snapshot store, so a cache miss costs one query instead of two.
        repository = self.repository
        self._unsnapshotted: Repository[UUID] = Repository(
            self.events,
            fastforward=repository.fastforward,
            deepcopy_from_cache=repository.deepcopy_from_cache,
        )
        self._unsnapshotted.cache = repository.cache

    def run_command(self, run: Callable[[], T]) -> T:
        """Run a command; re-run it after a lost optimistic-concurrency race or a busy database."""
        with self._command_lock:
            if self._attempt is not None:  # called by a command: that one re-runs
                return run()
            try:
                for attempt in range(MAX_ATTEMPTS):
                    self._attempt = attempt
                    self._touched.clear()
                    self._saved = False
                    try:
                        result = run()
                    except (IntegrityError, OperationalError):
                        pass
                    except Exception:
                        # a refusal is only as fresh as the cached aggregates it was made on
                        if attempt == MAX_ATTEMPTS - 1 or not self._stale_touched():
                            self._evict_touched()
                            raise
                    except BaseException:
                        self._evict_touched()
                        raise
                    else:
                        # "nothing to change", decided on cached aggregates, saved nothing,
                        # so no conflict would have caught a stale copy: ask the log
                        if self._saved or not self._stale_touched():
                            return result
                    self._evict_touched()
                    if attempt == MAX_ATTEMPTS - 1:
                        break
                    time.sleep(random.uniform(0, 0.002 * (attempt + 1)))
            finally:
                self._attempt = None
        msg = f"The command lost {MAX_ATTEMPTS} concurrent-write races in a row; try again."
        raise ConcurrencyError(msg)

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """Append the new events of the given aggregates in one transaction.

        An aggregate without new events is left out: it is not part of what the command
        changed (a subclass may stamp every saved aggregate with the save's moment).
        """
        changed = [obj for obj in objs if _has_news(obj)]
        self._saved = self._saved or bool(changed)
        for obj in changed:
            if hasattr(obj, "id"):
                self._touched.add(obj.id)
        return super().save(*changed, **kwargs)

    def _take_snapshots(self, processing_event: ProcessingEvent[UUID]) -> None:
        """Snapshot, as it is in hand, each saved aggregate an event took across its interval.

        The library re-loads the aggregate at the crossing event's version (its last snapshot
        decoded, up to an interval of events replayed): every Nth write paid a full load to
        rebuild state this save already holds. The aggregate in hand is what was just
        recorded, at its latest version, which may be past the crossing event: a snapshot
        there is as valid, and one per aggregate per save is enough. The library's rules stay
        (the type's interval; its ``Snapshot`` class, else ``snapshot_class``; events that can
        mutate unless a projector is registered). Under ``ProjectedRegistry`` the snapshot is
        written in the save's transaction.
        """
        if self.snapshots is None or not self.snapshotting_intervals:
            return
        due: dict[UUID, Any] = {}
        for event in processing_event.events:
            aggregate = processing_event.aggregates.get(event.originator_id)
            if aggregate is None:  # an event saved on its own: no state in hand
                continue
            interval = self.snapshotting_intervals.get(type(aggregate))
            if not interval or event.originator_version % interval:
                continue
            if type(aggregate) not in self.snapshotting_projectors and not isinstance(
                event, CanMutateProtocol
            ):
                msg = f"Cannot snapshot {type(aggregate)}: register it in snapshotting_projectors."
                raise ProgrammingError(msg)
            due[event.originator_id] = aggregate
        snapshots = []
        for aggregate in due.values():
            snapshot_class = getattr(type(aggregate), "Snapshot", self.snapshot_class)
            if snapshot_class is None:
                msg = f"Neither {type(aggregate)} nor {type(self)} has a snapshot class."
                raise ProgrammingError(msg)
            snapshots.append(snapshot_class.take(aggregate))
        if snapshots:
            self.snapshots.put(snapshots)

    def _get(self, aggregate_id: UUID, *, snapshotted: bool = True) -> Any:
        """Get an aggregate for a command, remembering it in case the command fails.

        ``snapshotted=False`` (for a type never snapshotted) skips the snapshot lookup.
        """
        self._touched.add(aggregate_id)
        repository = self.repository if snapshotted else self._unsnapshotted
        return repository.get(aggregate_id)

    def _get_or_none(self, aggregate_id: UUID, *, snapshotted: bool = True) -> Any:
        try:
            return self._get(aggregate_id, snapshotted=snapshotted)
        except AggregateNotFoundError:
            return None

    def _get_unless_new(self, aggregate_id: UUID, *, snapshotted: bool = True) -> Any:
        """The aggregate, or None; on a first attempt, None unless it is cached.

        For an id that is new in the common case (a model name registered for the first
        time, a run id chosen up front) the first attempt does not ask the database: if the
        id was taken after all, the save conflicts and the re-run asks.
        """
        if self._attempt != 0:
            return self._get_or_none(aggregate_id, snapshotted=snapshotted)
        cache = self.repository.cache
        if cache is None:
            return None
        try:
            found = cache.get(aggregate_id)
        except KeyError:
            return None
        self._touched.add(aggregate_id)
        return found

    def _stale_touched(self) -> bool:
        """Whether the log holds events past the version of any aggregate the attempt used.

        An answer decided without appending (a refusal, or "already so") is never checked
        by a conflicting save, and a cached aggregate may be behind another process's
        writes. One read per aggregate, only on those answers: the common path, a command
        that appends, is checked by the append itself.
        """
        cache = self.repository.cache
        for aggregate_id in self._touched:
            try:
                aggregate = cache.get(aggregate_id) if cache is not None else None
            except KeyError:
                continue  # never cached: what the attempt read came from the log
            if aggregate is None:
                continue
            if self.recorder.select_events(aggregate_id, gt=aggregate.version, limit=1):
                return True
        return False

    def _evict_touched(self) -> None:
        cache = self.repository.cache
        if cache is None:
            return
        for aggregate_id in self._touched:
            with contextlib.suppress(KeyError):
                cache.get(aggregate_id, evict=True)

    @staticmethod
    def _position(recordings: list[Recording[UUID]]) -> int:
        """The log position of a save's last event (what commands return)."""
        return int(recordings[-1].notification.id)


def _has_news(obj: object) -> bool:
    if obj is None:
        return False
    if isinstance(obj, CollectEventsProtocol):
        return bool(getattr(obj, "pending_events", True))
    return True  # a domain event given directly
