"""``/events``: the log itself, page by page or live (Server-Sent Events); ``/replay``."""

from __future__ import annotations

import asyncio
import os
import re
import time
import weakref
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from modelplane import config
from modelplane.backend.follow import check_types
from modelplane.backend.local import EVENTS_TABLE
from modelplane.backend.tokens import authenticate
from modelplane.backend.wire import encode
from modelplane.domain.errors import RegistryError, ValidationError
from modelplane.domain.names import normalise_names

from .. import schemas
from ..auth import Backend, Caller, caller
from ..encoding import one
from ..errors import RESPONSES
from ..idempotency import IdempotentRoute, own_transactions
from ..responses import JSON, dumps
from ..state import ServerState, server_state

if TYPE_CHECKING:
    from modelplane.backend.local import LocalBackend
    from modelplane.head_watch import HeadWatcher
    from modelplane.responses import LoggedEvent
    from modelplane.store_handle import Store

router = APIRouter(tags=["events"], responses=RESPONSES, route_class=IdempotentRoute)

Position = Annotated[int | None, Query(ge=0, le=2**63 - 1)]
STREAM_BATCH = 500
#: a stream checks its token again at most this often, once the log has moved since
TOKEN_CHECK_SECONDS = 0.25
_DIGITS = re.compile(r"[0-9]{1,19}")
#: an idle stream sends a comment this often, so proxies and clients see it is alive
DEFAULT_KEEPALIVE_SECONDS = 15.0


def _keepalive_seconds() -> float:
    """``MODELPLANE_STREAM_KEEPALIVE_SECONDS``, read once as each server process starts."""
    raw = os.environ.get("MODELPLANE_STREAM_KEEPALIVE_SECONDS")
    if not raw:
        return DEFAULT_KEEPALIVE_SECONDS
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 3600:
        msg = f"MODELPLANE_STREAM_KEEPALIVE_SECONDS must be seconds in (0, 3600], not {raw!r}."
        raise config.ConfigError(msg)
    return value


KEEPALIVE_SECONDS = _keepalive_seconds()


@router.get("/events", response_model=list[schemas.LoggedEvent])  # type: ignore[valid-type]
def list_events(
    backend: Backend,
    model: str | None = None,
    after: Position = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> JSON:
    """The log from a position on (``after``: the last position already seen), optionally one
    model's events (every life of its name); the next page is ``after=`` the last position."""
    return one(backend.list_events(normalise_names(model), after, limit))


@router.get(
    "/events/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream_events(
    request: Request,
    state: Annotated[ServerState, Depends(server_state)],
    who: Annotated[Caller, Depends(caller)],
    backend: Backend,
    model: str | None = None,
    after: Position = None,
    types: Annotated[list[str] | None, Query(alias="type")] = None,
    last_event_id: Annotated[str | None, Header(max_length=32)] = None,
) -> StreamingResponse:
    """Each new event as one ``data:`` line of JSON, its position as the SSE ``id``.

    Starts after the ``Last-Event-ID`` a reconnecting client sends (it repeats the URL it
    first asked, so the header wins over ``after``), else after ``after``, else at the end of
    the log (only new events). The first message is an ``id:`` alone, the position the stream
    starts after: it dispatches no event, but a client that reconnects before any event came
    resumes there rather than at a later end of the log. ``type=`` (repeated, or
    comma-separated) keeps only those event types. An idle stream sends a ``: keep-alive``
    comment every ``KEEPALIVE_SECONDS``.

    Between reads a stream waits on the process's head watcher (``modelplane.head_watch``),
    which wakes it as soon as the log's head passes what it has read: a wake-up is only a
    hint, the stream reads after its last position as ever. Streams of one process at the
    same place share each read (``_SharedReads``). Once the log has moved, the token is
    checked again (at most every ``TOKEN_CHECK_SECONDS``; a revocation is itself an append):
    a revoked token's stream ends.
    """
    wanted = check_types(types)
    start = after
    if last_event_id and last_event_id.strip():  # an empty one: no event was received yet
        start = _resumed_from(last_event_id)
    model_name = normalise_names(model)
    if start is None:
        latest = await run_in_threadpool(_last_position, state)
        start = latest
    # what would fail on the first poll fails here, as an error answer (a model never
    # registered: 404), not as a stream cut off after its 200
    await run_in_threadpool(backend.list_events, model_name, start, 1)
    token = request.headers.get("authorization", "").partition(" ")[2].strip()

    watcher = state.watcher
    reads = _SharedReads.of(state.store, watcher)

    async def events() -> AsyncIterator[bytes]:
        position = start
        yield b": modelplane event stream\nid: %d\n\n" % position
        sent = time.monotonic()
        moved, checked = True, float("-inf")  # whether the log moved since the last check
        while not await request.is_disconnected():
            if moved and time.monotonic() >= checked + TOKEN_CHECK_SECONDS:
                if await run_in_threadpool(authenticate, state.store, token) is None:
                    yield b'event: error\ndata: {"type": "AuthenticationError"}\n\n'
                    return
                moved, checked = False, time.monotonic()
            try:
                covered, batch = await reads.after(backend, model_name, position)
            except RegistryError as error:  # the response has started: say why it ends
                body = {"type": type(error).__name__, "message": str(error)}
                yield b"event: error\ndata: %s\n\n" % dumps(body)
                return
            for at, kind, data in batch:
                position = at
                if wanted is not None and kind not in wanted:
                    continue
                yield b"id: %d\ndata: %s\n\n" % (at, data)
                sent = time.monotonic()
            if len(batch) < STREAM_BATCH:
                # read to the end: wait for the head to pass what the read covered, or for the
                # token's check that a move since the last one makes due
                idle = KEEPALIVE_SECONDS - (time.monotonic() - sent)
                check = checked + TOKEN_CHECK_SECONDS - time.monotonic() if moved else idle
                if await watcher.changed(max(position, covered), min(idle, check)):
                    moved = True
                    continue
                if watcher.stopped:  # the server is shutting down: the client resumes
                    return
                if time.monotonic() - sent >= KEEPALIVE_SECONDS:
                    yield b": keep-alive\n\n"
                    sent = time.monotonic()

    del who  # authenticated by the dependency before the stream starts
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)


#: what a stream reads at once: (position, type, the ``data:`` JSON) per event, in log order
Page = list[tuple[int, str, bytes]]


class _SharedReads:
    """The log reads of one store's streams in one event loop, shared by the streams at the
    same place: woken by the same commit, a process's streams at the head all read after the
    same position, and one read (and one encoding per event) serves them all.

    A read is shared only while it is in flight; each answers, beside its page, the head
    the watcher knew when it began: committed before the read started, so the read saw every
    position up to it, whichever stream started it.
    """

    _loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Store, _SharedReads]] = (
        weakref.WeakKeyDictionary()
    )

    def __init__(self, watcher: HeadWatcher) -> None:
        self.watcher = watcher
        self._reading: dict[tuple[str | None, int], asyncio.Task[tuple[int, Page]]] = {}

    @classmethod
    def of(cls, store: Store, watcher: HeadWatcher) -> _SharedReads:
        per_store = cls._loops.setdefault(asyncio.get_running_loop(), {})
        reads = per_store.get(store)
        if reads is None:
            reads = per_store[store] = cls(watcher)
        return reads

    async def after(
        self, backend: LocalBackend, model: str | None, position: int
    ) -> tuple[int, Page]:
        """(the head the read covers, up to ``STREAM_BATCH`` events after ``position``)."""
        key = (model, position)
        task = self._reading.get(key)
        if task is None:
            task = asyncio.ensure_future(self._read(backend, model, position))
            self._reading[key] = task
            task.add_done_callback(lambda done: self._done(key, done))
        # a stream that goes away stops waiting, not the read the others wait for
        return await asyncio.shield(task)

    def _done(self, key: tuple[str | None, int], task: asyncio.Task[tuple[int, Page]]) -> None:
        self._reading.pop(key, None)
        if not task.cancelled():
            task.exception()  # retrieved, even if every stream that waited on it has gone

    async def _read(
        self, backend: LocalBackend, model: str | None, position: int
    ) -> tuple[int, Page]:
        covered = self.watcher.head
        return covered, await run_in_threadpool(_page, backend, model, position)


def _page(backend: LocalBackend, model: str | None, position: int) -> Page:
    events = backend.list_events(model, position, STREAM_BATCH)
    return [(e.position, e.type, dumps(_streamed(e))) for e in events]


def _streamed(event: LoggedEvent) -> dict[str, Any]:
    """The event as ``GET /events`` has it (exact big integers), plus ``model``: the id of
    the model it belongs to, under the name the stream's documented shape gives it."""
    data: dict[str, Any] = encode(event)
    data.setdefault("model", data.get("model_id"))
    return data


def _resumed_from(last_event_id: str) -> int:
    """The position a ``Last-Event-ID`` names: this stream's ids are ASCII digits, nothing
    else (``str.isdigit`` would let ``"²"`` through to ``int()``)."""
    value = last_event_id.strip()
    if not _DIGITS.fullmatch(value) or int(value) > 2**63 - 1:
        msg = f"Last-Event-ID must be a log position this stream sent, not {last_event_id!r}."
        raise ValidationError(msg)
    return int(value)


def _last_position(state: ServerState) -> int:
    from modelplane.projections.log import EventLog

    with state.store.read() as conn:
        return EventLog.named(EVENTS_TABLE).head(conn)


@router.post("/replay", response_model=schemas.ReplayResult)
@own_transactions  # a rebuild commits page by page, then swaps: it cannot run inside one
def replay(backend: Backend, body: schemas.Replay | None = None) -> JSON:
    """Rebuild the read tables from the log (admin); the server keeps serving meanwhile."""
    until = None if body is None else body.until
    return one(backend.rebuild_projections(until=until))
