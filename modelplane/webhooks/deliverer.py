"""The deliverer: one per server process, posting the log's events to the live webhooks.

A poller thread reads the log's head and the live webhooks (with their secrets and cursors:
one query) every ``poll`` seconds, and, while this process holds a webhook, as soon as the
head moves past what it last read (the process's head watcher, ``modelplane.head_watch``,
wakes it), so a delivery does not wait for a poll; a process that holds none (a store
without webhooks) polls on its timer alone, at no cost per append. It claims the lease of
each webhook no live process holds, renews the leases it holds every third of their length,
and wakes its workers when the head moves. A worker thread per claimed webhook reads the log
after the webhook's position (the reader of ``GET /events``, so a delivery's body is the
stream's ``data:`` object), skips the event types and models it does not want, and posts one
event at a time:

- a 2xx answer records the attempt and moves the position past the event in one
  transaction, only while this process still holds the lease;
- anything else (another status, 3xx included: redirects are not followed; a timeout; no
  connection) records the attempt and tries the same event again after an exponential
  backoff with jitter, so a webhook's events arrive in log order (head-of-line per webhook;
  other webhooks have their own workers and are not held up).

The position moves only after the target acknowledged, so a process killed mid-delivery
leaves the event to whoever takes the lease next (this process restarted, or another, once
the lease runs out): at least once, never skipped, and the repeat carries the same
``Modelplane-Delivery`` id (``signing.delivery_id``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import secrets
import socket
import threading
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

from modelplane.backend.interface import READ
from modelplane.backend.jsonbody import dumps
from modelplane.backend.local import EVENTS_TABLE, LocalBackend
from modelplane.backend.wire import encode
from modelplane.domain.errors import NotFoundError

from . import progress, signing
from .settings import WebhookSettings
from .tables import ensure_tables

if TYPE_CHECKING:
    from fastapi import FastAPI

    from modelplane.head_watch import HeadWatcher
    from modelplane.responses import LoggedEvent
    from modelplane.store_handle import Store

    from .progress import LiveHook

logger = logging.getLogger("modelplane.webhooks")

#: events read from the log per query
BATCH = 100
#: the most of a target's answer read (so the connection can be kept); the rest is dropped
MAX_ANSWER_BYTES = 64 * 1024
#: a lease must cover this much more than one attempt's timeout before an attempt starts
LEASE_MARGIN_SECONDS = 1.0


def install(app: FastAPI, store: Store, watcher: HeadWatcher) -> None:
    """Run a deliverer beside ``app`` (started with it, stopped before the store closes),
    woken by ``watcher`` when the log grows, unless ``MODELPLANE_WEBHOOKS=off``. Settings
    are read now: a bad one stops the start."""
    settings = WebhookSettings.from_environment()
    if not settings.enabled:
        return
    deliverer = Deliverer(store, settings, watcher)

    @app.on_event("startup")
    def start_deliverer() -> None:
        deliverer.start()

    @app.on_event("shutdown")
    def stop_deliverer() -> None:
        deliverer.stop()


def streamed(event: LoggedEvent) -> dict[str, Any]:
    """The event as ``GET /events/stream`` sends it: ``GET /events``'s object plus ``model``."""
    data: dict[str, Any] = encode(event)
    data.setdefault("model", data.get("model_id"))
    return data


def backoff(failures: int, base: float, cap: float) -> float:
    """Seconds to wait after the ``failures``-th failed attempt in a row: base * 2^(n-1),
    capped, then randomised into its upper half."""
    delay = min(cap, base * 2 ** min(failures - 1, 62))
    return random.uniform(delay / 2, delay)


def _owner_id() -> str:
    return f"{socket.gethostname()[:32]}:{os.getpid()}:{secrets.token_hex(4)}"


def _user_agent() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"modelplane-webhooks/{version('modelplane')}"
    except PackageNotFoundError:
        return "modelplane-webhooks"


class Deliverer:
    """The poller of one process, and the workers of the webhooks it holds."""

    def __init__(self, store: Store, settings: WebhookSettings, watcher: HeadWatcher) -> None:
        self.store = store
        self.settings = settings
        self.watcher = watcher
        #: this process's name in the lease column: a new one each start
        self.owner = _owner_id()
        self.agent = _user_agent()
        self._stop = threading.Event()
        self._news = threading.Condition()
        #: the last poll's log head and live webhooks, replaced together (see ``_poll``)
        self._view: tuple[int, dict[str, LiveHook]] = (0, {})
        self._workers: dict[str, _Worker] = {}
        self._unsigned: set[str] = set()
        self._next_renewal = 0.0
        self._thread = threading.Thread(target=self._run, name="modelplane-webhooks", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, wait: float = 5.0) -> None:
        """Stop polling and delivering; workers release their leases as they end (one in
        the middle of an attempt ends when the attempt does, or its lease runs out)."""
        self._stop.set()
        self.watcher.nudge()
        with self._news:
            self._news.notify_all()
        deadline = time.monotonic() + wait
        if self._thread.is_alive():
            self._thread.join(max(0.0, deadline - time.monotonic()))
        for worker in list(self._workers.values()):
            worker.join(max(0.0, deadline - time.monotonic()))

    # ------------------------------------------------------- what workers read

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def view(self) -> tuple[int, dict[str, LiveHook]]:
        """The log head and the live webhooks of the last poll."""
        return self._view

    def live(self, webhook_id: str) -> LiveHook | None:
        """The webhook as of the last poll; None once it was removed."""
        return self._view[1].get(webhook_id)

    def wait_for_news(self, timeout: float) -> None:
        """Sleep until the next poll (or the stop)."""
        with self._news:
            if not self._stop.is_set():
                self._news.wait(timeout)

    def sleep(self, seconds: float) -> bool:
        """Sleep ``seconds``; False if the deliverer is stopping."""
        return not self._stop.wait(seconds)

    # ------------------------------------------------------------------ polling

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._poll()
            except Exception:  # a database gone for a moment: the next poll tries again
                logger.exception("webhook poll failed")
                self._stop.wait(self.settings.poll)
                continue
            # the next poll: when the leases or the live webhooks are due to be read again,
            # or, while delivering, as soon as the head passes this poll's
            idle = min(self.settings.poll, self._next_renewal - time.monotonic())
            if self._workers and not self.watcher.stopped:
                self.watcher.wait(self._view[0], idle, interrupted=self._stop.is_set)
            else:
                self._stop.wait(max(0.0, idle))

    def _poll(self) -> None:
        from modelplane.projections.log import EventLog

        engine = self.store.engine
        ensure_tables(engine)
        # the head first: a removal before an event at or below it is committed before the
        # event, so the webhooks read after it show the removal (workers deliver nothing past
        # the head of the view they act on, so nothing appended after a removal is sent)
        with self.store.read() as conn:
            head = EventLog.named(EVENTS_TABLE).head(conn)
            hooks = progress.live_hooks(conn)
        with self._news:
            self._view = (head, {hook.id: hook for hook in hooks})
            self._news.notify_all()
        self._workers = {key: w for key, w in self._workers.items() if w.is_alive()}
        renew = time.monotonic() >= self._next_renewal
        if renew:
            self._next_renewal = time.monotonic() + self.settings.lease / 3
        for hook in hooks:
            worker = self._workers.get(hook.id)
            if worker is not None:
                if renew:
                    worker.renew()
                continue
            if hook.secret is None:
                if hook.id not in self._unsigned:
                    self._unsigned.add(hook.id)
                    logger.error("webhook %s has no secret row: not delivered", hook.id)
                continue
            if hook.position is None:
                progress.start_cursor(engine, hook.id, hook.registered)
            elif self._held_elsewhere(hook):
                continue
            until = progress.claim(engine, hook.id, self.owner, self.settings.lease)
            if until is not None:
                worker = _Worker(self, hook.id, until)
                self._workers[hook.id] = worker
                worker.start()

    def _held_elsewhere(self, hook: LiveHook) -> bool:
        """Whether the poll saw another process's lease still running (no claim tried)."""
        return (
            hook.lease_owner not in (None, self.owner)
            and hook.lease_until is not None
            and hook.lease_until > progress.now()
        )


class _Worker(threading.Thread):
    """Delivers one webhook's events in order, while its process holds the lease."""

    def __init__(self, deliverer: Deliverer, webhook_id: str, lease_until: datetime) -> None:
        super().__init__(name=f"modelplane-webhook-{webhook_id[:8]}", daemon=True)
        self.deliverer = deliverer
        self.webhook_id = webhook_id
        self.lease_until = lease_until
        self.lost = False
        settings = deliverer.settings
        self.settings = settings
        self.engine = deliverer.store.engine
        self.reader = LocalBackend(deliverer.store, actor="modelplane-webhooks", role=READ)
        self.client = httpx.Client(
            timeout=httpx.Timeout(settings.timeout),
            follow_redirects=False,
            trust_env=False,  # proxies from the environment are not the webhooks' business
        )

    def renew(self) -> None:
        """Extend the lease (the poller calls this); a lost lease stops the worker."""
        until = progress.renew(
            self.engine, self.webhook_id, self.deliverer.owner, self.settings.lease
        )
        if until is None:
            self.lost = True
        else:
            self.lease_until = until

    def run(self) -> None:
        try:
            self._deliver_all()
        except Exception:
            logger.exception("webhook %s: delivery stopped", self.webhook_id)
        finally:
            self.client.close()
            if not self.lost:
                with contextlib.suppress(Exception):
                    progress.release(self.engine, self.webhook_id, self.deliverer.owner)

    def _active(self) -> bool:
        return (
            not self.lost
            and not self.deliverer.stopping
            and self.deliverer.live(self.webhook_id) is not None
        )

    def _deliver_all(self) -> None:
        position = progress.position_of(self.engine, self.webhook_id)
        while self._active():
            head, live = self.deliverer.view
            hook = live.get(self.webhook_id)
            if hook is None or head <= position:
                self.deliverer.wait_for_news(self.settings.poll * 4)
                continue
            try:
                read = self.reader.list_events(hook.model, position, BATCH)
            except NotFoundError:  # no model was ever named so: none of its events yet
                read = []
            batch = [event for event in read if event.position <= head]
            for event in batch:
                if hook.events is not None and event.type not in hook.events:
                    continue
                if not self._deliver(hook, event):
                    return
                position = event.position
            # every position up to the head was committed before the read, so a read that
            # ended short of its limit, or past the head, saw all of them
            scanned = head if len(read) < BATCH or len(batch) < len(read) else batch[-1].position
            if scanned > position:
                if not progress.advance(
                    self.engine, self.webhook_id, self.deliverer.owner, scanned
                ):
                    self.lost = True
                    return
                position = scanned

    def _deliver(self, hook: LiveHook, event: LoggedEvent) -> bool:
        """Post ``event`` until the target takes it; False when this worker must stop first."""
        assert hook.secret is not None  # the poller starts no worker without one
        body = dumps(streamed(event))
        attempt = progress.attempts_at(self.engine, hook.id, event.position)
        failures = 0
        while True:
            if not self._active() or not self._lease_covers_an_attempt():
                return False
            attempt += 1
            headers = signing.headers(
                hook.secret, hook.id, event.position, event.type, body, self.deliverer.agent
            )
            at = progress.now()
            started = time.perf_counter()
            status, error = self._post(hook.url, body, headers)
            row = {
                "webhook_id": hook.id,
                "delivery_id": headers["Modelplane-Delivery"],
                "position": event.position,
                "event_type": event.type,
                "attempt": attempt,
                "at": at,
                "status_code": status,
                "error": error,
                "duration_ms": (time.perf_counter() - started) * 1000,
                "worker": self.deliverer.owner,
            }
            if error is None:
                if progress.record_delivered(self.engine, row, self.deliverer.owner):
                    return True
                self.lost = True
                return False
            progress.record(self.engine, row)
            failures += 1
            wait = backoff(failures, self.settings.backoff, self.settings.backoff_max)
            if not self._wait(wait):
                return False

    def _lease_covers_an_attempt(self) -> bool:
        """Renew now unless the lease outlasts one more attempt, so that no other process
        can take the webhook over while this one is still posting to it."""
        needed = timedelta(seconds=self.settings.timeout + LEASE_MARGIN_SECONDS)
        if self.lease_until - progress.now() < needed:
            self.renew()
        return not self.lost

    def _wait(self, seconds: float) -> bool:
        """Back off ``seconds``; False if the worker must stop meanwhile."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            if not self.deliverer.sleep(min(left, self.settings.poll)) or not self._active():
                return False
        return True

    def _post(
        self, url: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int | None, str | None]:
        """One attempt: the status and, unless it was a 2xx, why it did not count."""
        if not url.lower().startswith(("http://", "https://")):  # checked when registered
            return None, "not an http(s) URL"
        try:
            with self.client.stream("POST", url, content=body, headers=headers) as answer:
                status = answer.status_code
                location = answer.headers.get("location", "")
                _drain(answer)
        except httpx.TimeoutException as error:
            return None, f"timed out after {self.settings.timeout:g}s ({type(error).__name__})"
        except Exception as error:  # refused, reset, a name that does not resolve, ...
            return None, f"{type(error).__name__}: {error}"[:1000]
        if 200 <= status < 300:
            return status, None
        if 300 <= status < 400:
            return status, f"HTTP {status}: redirects are not followed (to {location[:500]!r})"
        return status, f"HTTP {status}"


def _drain(answer: httpx.Response) -> None:
    """Read a little of the answer, so the connection can be kept for the next delivery; the
    status is what counts, so a body that is long, slow or broken is only cut short."""
    read = 0
    try:
        for chunk in answer.iter_raw():
            read += len(chunk)
            if read > MAX_ANSWER_BYTES:
                return
    except httpx.HTTPError:
        return
