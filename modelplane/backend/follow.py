"""Following the log as it grows: the event types a follower may ask for, the local poller,
and the reader of ``GET /events/stream``'s Server-Sent Events.

Both backends resume "after the last position yielded", which never skips an event because
appends are serialised by the log's write lock before positions are handed out
(``projections/clock.py``): a position a reader has seen commits after every smaller one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from modelplane.domain.errors import ValidationError

if TYPE_CHECKING:
    from modelplane.responses import LoggedEvent

#: how long a local follower sleeps when the log has nothing new
POLL_SECONDS = 0.25
BATCH = 500


def event_types() -> frozenset[str]:
    """Every event type the log can hold (``Model.StageChanged``), from the domain's topics,
    so a misspelt filter is refused instead of silently matching nothing forever (webhooks
    check their filters against the same names)."""
    from modelplane.domain.webhooks import event_types as domain_event_types

    return domain_event_types()


def check_types(types: str | Iterable[str] | None) -> frozenset[str] | None:
    """The event types a filter names (None: every type); commas separate several in one."""
    if types is None:
        return None
    if isinstance(types, str):
        types = [types]
    wanted = {part.strip() for item in types for part in str(item).split(",") if part.strip()}
    if not wanted:
        return None
    unknown = wanted - event_types()
    if unknown:
        msg = (
            f"Unknown event type {', '.join(sorted(unknown))!r}; the log holds: "
            f"{', '.join(sorted(event_types()))}."
        )
        raise ValidationError(msg)
    return frozenset(wanted)


def check_position(after: int) -> int:
    """A log position to follow from: a whole number from 0 (the whole log) up."""
    if isinstance(after, bool) or not isinstance(after, int) or not 0 <= after <= 2**63 - 1:
        msg = f"after must be a log position (a whole number from 0), not {after!r}."
        raise ValidationError(msg)
    return after


def poll(
    read: Callable[[int, int], list[LoggedEvent]],
    after: int,
    types: frozenset[str] | None,
    interval: float = POLL_SECONDS,
) -> Iterator[LoggedEvent]:
    """Every event after ``after`` (``read(after, limit)`` pages the log), then each new one
    as it is appended, forever; sleeps ``interval`` whenever the log has nothing new."""
    position = after
    while True:
        batch = read(position, BATCH)
        for event in batch:
            position = event.position
            if types is None or event.type in types:
                yield event
        if len(batch) < BATCH:
            time.sleep(interval)


@dataclass(frozen=True)
class Message:
    """One Server-Sent Events message (comments are not messages)."""

    id: str | None
    event: str | None
    data: str | None


def messages(lines: Iterable[str]) -> Iterator[Message]:
    """The messages of an SSE stream, parsed as the format says (a blank line ends one)."""
    fields: dict[str, Any] = {}
    for line in lines:
        if line == "":
            if fields:
                yield Message(fields.get("id"), fields.get("event"), fields.get("data"))
                fields = {}
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data" and "data" in fields:
            value = fields["data"] + "\n" + value
        fields[name] = value


#: the first wait before reconnecting a dropped stream, and the longest
RECONNECT_SECONDS = 0.1
MAX_RECONNECT_SECONDS = 2.0


def read_stream(
    connect: Callable[[int | None], Any],
    response: Any,
    decode: Callable[[str], LoggedEvent],
    error: Callable[[dict[str, Any]], Exception],
    last: int | None,
) -> Iterator[LoggedEvent]:
    """The events of an open ``GET /events/stream`` response, reconnecting when it drops.

    ``connect(last)`` opens the stream again resuming after ``last`` (the position of the
    last event yielded, or the one the server's opening ``id:`` named), so a reconnect
    neither misses nor repeats an event. A dropped connection, an unreachable server or a
    server error is retried after a short, growing wait; an error answer the caller caused
    (a revoked token, a deleted model) ends the generator by raising it.
    """
    import httpx

    from .errors import ServerError

    wait = RECONNECT_SECONDS
    try:
        while True:
            if response is not None:
                try:
                    for message in messages(response.iter_lines()):
                        if message.event == "error":
                            raise error(_error_body(message.data))
                        if message.data is None:  # an ``id:`` alone: where the stream starts
                            if message.id is not None and message.id.isdigit():
                                last = int(message.id)
                            continue
                        event = decode(message.data)
                        last = event.position
                        wait = RECONNECT_SECONDS
                        yield event
                except httpx.HTTPError:
                    pass  # dropped: reconnect below
                finally:
                    response.close()
                    response = None
            time.sleep(wait)
            wait = min(wait * 2, MAX_RECONNECT_SECONDS)
            try:
                response = connect(last)
            except ServerError:
                response = None  # unreachable or failing for now: try again
    finally:
        if response is not None:
            response.close()


def _error_body(data: str | None) -> dict[str, Any]:
    import orjson

    try:
        body = orjson.loads(data or "{}")
    except orjson.JSONDecodeError:
        body = {}
    kind = str(body.get("type", "ServerError")) if isinstance(body, dict) else "ServerError"
    message = body.get("message") if isinstance(body, dict) else None
    if not isinstance(message, str):
        message = f"The server ended the event stream: {kind}."
    return {"error": {"type": kind, "message": message}}
