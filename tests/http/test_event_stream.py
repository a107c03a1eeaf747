"""``GET /events/stream`` (Server-Sent Events) against a real server.

A stream is read with httpx while another client writes; every event must come once, in log
order, as ``id: <position>`` and one ``data:`` line holding what ``GET /events`` holds for it.
Every wait is bounded: httpx's read timeout (the server sends nothing while the log is idle),
and a deadline on each collection, so a missing event fails the test instead of hanging it.
"""

from __future__ import annotations

import itertools
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest

from tests.servers import RunningServer

from .conftest import API, assert_error, bearer, call, make_token, revoke_token, started

#: the longest a test waits for the next bytes of a stream, and for a whole collection
READ_TIMEOUT = 10.0
DEADLINE = 30.0


@dataclass(frozen=True)
class Sse:
    id: str | None
    event: str | None
    data: str


class Stream:
    """One open event stream: its messages, parsed as the SSE format says."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._lines = response.iter_lines()

    def next(self, with_data: bool = True) -> Sse | None:
        """The next message (comments skipped; without ``with_data``, an ``id:`` alone too),
        or None when the server ended the stream."""
        fields: dict[str, list[str]] = {}
        for line in self._lines:
            if line == "":
                if with_data and "data" not in fields:
                    fields = {}  # an id alone dispatches no event, as EventSource has it
                    continue
                if fields:
                    data = "\n".join(fields.get("data", []))
                    return Sse(_last(fields, "id"), _last(fields, "event"), data)
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            fields.setdefault(name, []).append(value.removeprefix(" "))
        return None

    def events(self, count: int) -> list[dict[str, Any]]:
        """The next ``count`` events, each checked to carry its position as its id."""
        deadline = time.monotonic() + DEADLINE
        found: list[dict[str, Any]] = []
        while len(found) < count:
            assert time.monotonic() < deadline, f"only {len(found)} of {count} events came"
            message = self.next()
            assert message is not None, f"the stream ended after {len(found)} of {count}"
            assert message.event is None, message
            assert "\n" not in message.data  # one data: line per event
            event = orjson.loads(message.data)
            assert message.id == str(event["position"]), message
            found.append(event)
        return found


def _last(fields: dict[str, list[str]], name: str) -> str | None:
    values = fields.get(name)
    return values[-1] if values else None


@contextmanager
def stream(
    server: RunningServer, token: str, headers: dict[str, str] | None = None, **params: Any
) -> Iterator[Stream]:
    timeout = httpx.Timeout(READ_TIMEOUT, connect=5.0)
    with (
        httpx.Client(base_url=server.url + API, timeout=timeout) as client,
        client.stream(
            "GET",
            "/events/stream",
            params=params,
            headers={**bearer(token), **(headers or {})},
        ) as response,
    ):
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        opened = Stream(response)
        yield opened


def logged(server: RunningServer, after: int = 0, **params: Any) -> list[dict[str, Any]]:
    """What ``GET /events`` holds after ``after``: what a stream must send, in this order."""
    response = call(
        server,
        "GET",
        "/events",
        server.admin_token,
        params={"after": after, "limit": 10_000, **params},
    )
    assert response.status_code == 200, response.text
    # the stream adds ``model``: the model's id, as ``model_id`` has it
    return [{**event, "model": event["model_id"]} for event in response.json()]


def head(server: RunningServer) -> int:
    events = logged(server)
    return int(events[-1]["position"]) if events else 0


def write_history(server: RunningServer, token: str, model: str) -> None:
    """A few commands, each its own request (a new connection: any worker may take it)."""
    for method, path, body in (
        ("POST", "/models", {"name": model, "tags": ["sse"]}),
        ("POST", "/model_versions", {"model": model, "name": "v1"}),
        ("POST", "/model_versions", {"model": model, "name": "v2"}),
    ):
        response = call(server, method, path, token, json=body)
        assert response.status_code == 201, response.text
    versions = call(server, "GET", f"/models/{model}/model_versions", token)
    assert versions.status_code == 200, versions.text
    for item in versions.json()["items"]:
        response = call(
            server, "PUT", f"/model_versions/{item['id']}", token,
            json={"stage": "production", "force": True},
        )  # fmt: skip
        assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def writer(store_server: RunningServer) -> str:
    return make_token(store_server, "write", "sse-writer")


@pytest.fixture(scope="module")
def reader(store_server: RunningServer) -> str:
    return make_token(store_server, "read", "sse-reader")


def test_new_writes_arrive_once_in_log_order(
    store_server: RunningServer, writer: str, reader: str
) -> None:
    model = f"m-{uuid.uuid4().hex[:8]}"
    start = head(store_server)
    with stream(store_server, reader) as events:
        write_history(store_server, writer, model)
        expected = logged(store_server, start)
        assert len(expected) >= 6
        got = events.events(len(expected))
    assert got == expected  # positions, types, timestamps, actors, models, payloads
    assert [e["position"] for e in got] == sorted({e["position"] for e in got})
    assert {e["actor"] for e in got if e["type"].startswith("Model.")} == {"sse-writer"}
    assert {"position", "type", "timestamp", "actor", "model", "model_id", "payload"} <= set(
        got[0]
    )


def test_metadata_past_64_bits_is_streamed_exactly(
    store_server: RunningServer, writer: str, reader: str
) -> None:
    model = f"m-{uuid.uuid4().hex[:8]}"
    write_history(store_server, writer, model)
    version = call(store_server, "GET", f"/models/{model}/model_versions/1", reader).json()
    start = head(store_server)
    with stream(store_server, reader, after=start) as events:
        response = call(
            store_server, "POST", f"/model_versions/{version['id']}/metadata", writer,
            json={"metadata": {"big": 2**70, "small": -(2**63)}},
        )  # fmt: skip
        assert response.status_code == 204, response.text
        (got,) = events.events(1)
    assert got["payload"]["metadata"] == {"big": 2**70, "small": -(2**63)}
    # and the stream goes on after it
    with stream(store_server, reader, after=start) as events:
        assert events.events(1) == [got]


def test_after_and_last_event_id_resume_without_gaps_or_repeats(
    store_server: RunningServer, writer: str, reader: str
) -> None:
    write_history(store_server, writer, f"m-{uuid.uuid4().hex[:8]}")
    everything = logged(store_server)
    cut = everything[len(everything) // 2]["position"]
    rest = [e for e in everything if e["position"] > cut]
    with stream(store_server, reader, after=cut) as events:
        assert events.events(len(rest)) == rest
    # a reconnecting EventSource repeats the URL it first opened, with the last id it saw
    seen = rest[1]["position"]
    with stream(store_server, reader, headers={"Last-Event-ID": str(seen)}, after=cut) as events:
        assert events.events(len(rest) - 2) == rest[2:]
        # and then only what comes next
        write_history(store_server, writer, f"m-{uuid.uuid4().hex[:8]}")
        newer = logged(store_server, everything[-1]["position"])
        assert events.events(len(newer)) == newer
    with stream(store_server, reader, headers={"Last-Event-ID": "0"}) as events:
        assert [e["position"] for e in events.events(3)] == [e["position"] for e in everything[:3]]


def test_the_model_filter(store_server: RunningServer, writer: str, reader: str) -> None:
    wanted, other = f"m-{uuid.uuid4().hex[:8]}", f"m-{uuid.uuid4().hex[:8]}"
    start = head(store_server)
    write_history(store_server, writer, wanted)
    with stream(store_server, reader, model=wanted, after=start) as events:
        write_history(store_server, writer, other)
        response = call(
            store_server, "POST", "/model_versions", writer, json={"model": wanted, "name": "v3"}
        )
        assert response.status_code == 201, response.text
        expected = logged(store_server, start, model=wanted)
        got = events.events(len(expected))
    assert got == expected
    assert any(e["payload"].get("name") == "v3" for e in got)  # written while streaming
    model_ids = {e["model_id"] for e in got}
    assert len(model_ids) == 1 and None not in model_ids
    assert all(e["payload"].get("name") != other for e in got)
    # a model never registered is refused before streaming, as GET /events refuses it
    unknown = f"never-{uuid.uuid4().hex[:8]}"
    response = call(store_server, "GET", "/events/stream", reader, params={"model": unknown})
    assert_error(response, 404, "NotFoundError")


def test_a_token_revoked_while_streaming_ends_its_stream(
    store_server: RunningServer, writer: str
) -> None:
    name = f"sse-{uuid.uuid4().hex[:8]}"
    token = make_token(store_server, "read", name)
    with stream(store_server, token) as events:
        revoke_token(store_server, name)
        deadline = time.monotonic() + DEADLINE
        last = None
        while (message := events.next()) is not None:  # the read timeout bounds each wait
            assert time.monotonic() < deadline, "the stream outlived its revoked token"
            last = message
        assert last is not None and last.event == "error", last
        assert orjson.loads(last.data)["type"] == "AuthenticationError"
    assert_error(call(store_server, "GET", "/events/stream", token), 401, "AuthenticationError")


@pytest.mark.parametrize(
    ("headers", "status", "kind"),
    [
        ({}, 401, "AuthenticationError"),
        ({"Authorization": "Bearer mp_nobody_secret"}, 401, "AuthenticationError"),
        ({"Last-Event-ID": "abc"}, 400, "ValidationError"),
        ({"Last-Event-ID": "9" * 20}, 400, "ValidationError"),
        ({"Last-Event-ID": "-1"}, 400, "ValidationError"),
        ({"Last-Event-ID": b"\xb2"}, 400, "ValidationError"),  # "²": a digit to str.isdigit
    ],
)
def test_refused_before_streaming(
    store_server: RunningServer,
    reader: str,
    headers: dict[str, Any],
    status: int,
    kind: str,
) -> None:
    if "Authorization" not in headers and status != 401:
        headers = {**bearer(reader), **headers}
    timeout = httpx.Timeout(READ_TIMEOUT, connect=5.0)
    with httpx.Client(base_url=store_server.url + API, timeout=timeout) as client:
        response = client.get("/events/stream", headers=headers)
    assert_error(response, status, kind)


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with started(tmp_path_factory, workers=2) as running:
        yield running


def test_a_stream_sees_writes_made_through_either_worker(two_workers: RunningServer) -> None:
    """Several streams (each on whichever worker took it) and writes on new connections
    (spread over both workers): every stream sees every write."""
    token = make_token(two_workers, "write", "two-workers")
    start = head(two_workers)
    with (
        stream(two_workers, token, after=start) as first,
        stream(two_workers, token, after=start) as second,
        stream(two_workers, token, after=start) as third,
    ):
        for _ in range(4):
            write_history(two_workers, token, f"m-{uuid.uuid4().hex[:8]}")
        expected = logged(two_workers, start)
        assert len(expected) >= 24
        for events in (first, second, third):
            assert events.events(len(expected)) == expected


def test_the_type_filter(store_server: RunningServer, writer: str, reader: str) -> None:
    model = f"m-{uuid.uuid4().hex[:8]}"
    start = head(store_server)
    wanted = ["Model.StageChanged", "Model.VersionAdded"]
    with stream(store_server, reader, after=start, type=wanted) as events:
        write_history(store_server, writer, model)
        expected = [e for e in logged(store_server, start) if e["type"] in wanted]
        assert {e["type"] for e in expected} == set(wanted)  # both kinds were written
        got = events.events(len(expected))
    assert got == expected
    # one type, and several in one comma-separated value, with the model filter beside it
    with stream(store_server, reader, after=start, type="Model.StageChanged", model=model) as one:
        changes = [e for e in expected if e["type"] == "Model.StageChanged"]
        assert one.events(len(changes)) == changes
    with stream(store_server, reader, after=start, type=",".join(wanted)) as both:
        assert both.events(len(expected)) == expected


@pytest.mark.parametrize(
    "types", [["Model.Nope"], ["Model.StageChanged", "nope"], ["modelplane:Model.StageChanged"]]
)
def test_an_unknown_type_is_refused_before_streaming(
    store_server: RunningServer, reader: str, types: list[str]
) -> None:
    before = head(store_server)
    response = call(store_server, "GET", "/events/stream", reader, params={"type": types})
    error = assert_error(response, 400, "ValidationError")
    assert "Model.StageChanged" in error["message"]  # it lists what the log holds
    assert head(store_server) == before


def test_the_sse_shape_on_the_wire(store_server: RunningServer, writer: str, reader: str) -> None:
    """Raw lines: an opening comment and ``id:`` (where the stream starts), then per event
    exactly ``id: <position>``, one ``data:`` line of JSON with the documented fields, and a
    blank line."""
    start = head(store_server)
    model = f"m-{uuid.uuid4().hex[:8]}"
    timeout = httpx.Timeout(READ_TIMEOUT, connect=5.0)
    with (
        httpx.Client(base_url=store_server.url + API, timeout=timeout) as client,
        client.stream("GET", "/events/stream", headers=bearer(reader)) as response,
    ):
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-cache"
        lines = response.iter_lines()
        assert next(lines).startswith(": ")
        assert next(lines) == f"id: {start}"  # no after: the end of the log when it opened
        assert next(lines) == ""
        response_ = call(store_server, "POST", "/models", writer, json={"name": model})
        assert response_.status_code == 201, response_.text
        expected = logged(store_server, start)
        for event in expected:
            line = next(lines)
            while line.startswith(":"):  # a keep-alive may come between events
                assert next(lines) == ""
                line = next(lines)
            assert line == f"id: {event['position']}"
            data = next(lines)
            assert data.startswith("data: ")
            got = orjson.loads(data.removeprefix("data: "))
            assert got == event
            assert next(lines) == ""
    registered = [e for e in expected if e["type"] == "Model.Registered"]
    assert registered and registered[0]["model"] == registered[0]["model_id"] is not None
    assert {"position", "type", "timestamp", "actor", "model", "payload"} <= set(registered[0])
    assert registered[0]["actor"] == "sse-writer"


def test_a_reconnect_before_any_event_resumes_where_the_stream_began(
    store_server: RunningServer, writer: str, reader: str
) -> None:
    """A stream opened without ``after`` names its start in its first ``id:``; a client
    that loses it before any event resumes from there and misses nothing written between."""
    with stream(store_server, reader) as events:
        opening = events.next(with_data=False)
        assert opening is not None and opening.id is not None and opening.data == ""
        began = int(opening.id)
    write_history(store_server, writer, f"m-{uuid.uuid4().hex[:8]}")
    expected = logged(store_server, began)
    with stream(store_server, reader, headers={"Last-Event-ID": str(began)}) as events:
        assert events.events(len(expected)) == expected


@pytest.fixture(scope="module")
def quick_keepalive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    env = {"MODELPLANE_STREAM_KEEPALIVE_SECONDS": "0.5"}
    with started(tmp_path_factory, extra_env=env) as running:
        yield running


def test_an_idle_stream_sends_keep_alive_comments(quick_keepalive: RunningServer) -> None:
    token = make_token(quick_keepalive, "read", "idle")
    timeout = httpx.Timeout(5.0, connect=5.0)  # far longer than the interval: must not fire
    seen: list[float] = []
    deadline = time.monotonic() + DEADLINE
    with (
        httpx.Client(base_url=quick_keepalive.url + API, timeout=timeout) as client,
        client.stream("GET", "/events/stream", headers=bearer(token)) as response,
    ):
        for line in response.iter_lines():
            assert time.monotonic() < deadline, "no keep-alives came"
            assert not line.startswith("data:"), line  # nothing was written
            if line == ": keep-alive":
                seen.append(time.monotonic())
                if len(seen) == 4:
                    break
    gaps = [b - a for a, b in itertools.pairwise(seen)]
    assert all(gap < 3.0 for gap in gaps), gaps  # about 0.5 s each; loose for slow machines


def test_a_bad_keep_alive_setting_stops_the_server_at_start(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    with (
        pytest.raises(RuntimeError, match="MODELPLANE_STREAM_KEEPALIVE_SECONDS"),
        started(tmp_path_factory, extra_env={"MODELPLANE_STREAM_KEEPALIVE_SECONDS": "-1"}),
    ):
        pass
