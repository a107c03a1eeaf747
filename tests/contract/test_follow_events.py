"""``Client().follow_events``: through each backend (see ``conftest.py``), a generator that
yields every new event once, in log order, while another thread writes.

The generator blocks between events, so it is read on a thread of its own and every wait on
it is bounded; that thread closes the generator when it has what it came for.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from modelplane.backend.http import HttpBackend
from modelplane.client import Client
from modelplane.exceptions import NotFoundError, ValidationError
from modelplane.responses import LoggedEvent
from tests.contract.conftest import Target

DEADLINE = 30.0


def collect(
    events: Iterator[LoggedEvent], count: int, until: Callable[[], bool] | None = None
) -> list[LoggedEvent]:
    """The first ``count`` events ``events`` yields, read on a thread, within DEADLINE."""
    got: list[LoggedEvent] = []
    failed: list[BaseException] = []
    done = threading.Event()

    def read() -> None:
        try:
            for event in events:
                got.append(event)
                if len(got) >= count:
                    break
        except BaseException as error:  # re-raised in the test's thread
            failed.append(error)
        finally:
            events.close()  # type: ignore[attr-defined]
            done.set()

    threading.Thread(target=read, daemon=True).start()
    assert done.wait(DEADLINE), f"only {len(got)} of {count} events came"
    if failed:
        raise failed[0]
    return got


def head(client: Client) -> int:
    events = client.list_events(after=0, limit=1_000_000)
    return events[-1].position if events else 0


def write_history(unique: str) -> None:
    write_history_with(Client(), unique)


def writing(unique: str) -> threading.Thread:
    """``write_history`` on a thread of its own, started (joined by the test)."""
    thread = threading.Thread(target=write_history, args=(unique,), daemon=True)
    thread.start()
    return thread


def test_new_events_come_once_in_log_order(sdk: Target, unique: str) -> None:
    client = Client()
    start = head(client)
    events = client.follow_events(after=start)
    writer = writing(unique)
    writer.join(DEADLINE)
    assert not writer.is_alive()
    expected = client.list_events(after=start, limit=10_000)
    assert len(expected) >= 10
    got = collect(events, len(expected))
    assert got == expected
    assert all(isinstance(e, LoggedEvent) for e in got)
    assert {e.actor for e in got if e.type.startswith("Model.")} == {sdk.actor}


def test_without_after_only_new_events_come(sdk: Target, unique: str) -> None:
    client = Client()
    write_history(f"{unique}-old")
    start = head(client)
    events = client.follow_events()  # from the end of the log, as it is now
    writer = writing(unique)
    got = collect(events, 1)
    writer.join(DEADLINE)
    assert got[0].position == start + 1
    assert got[0].type == "Model.Registered" and got[0].payload["name"] == unique


def test_the_model_and_type_filters(sdk: Target, unique: str) -> None:
    client = Client()
    client.create_model(unique)
    start = head(client)
    events = client.follow_events(after=start, model=unique, types=["Model.StageChanged"])
    write_history(f"{unique}-other")  # another model's stage changes: not followed
    client.create_model_version(unique, name="v1")
    client.create_model_version(unique, name="v2")
    client.update_model_version(unique, "v1", stage="staging")
    client.update_model_version(unique, "v2", stage="production")
    expected = [
        e for e in client.list_events(model=unique, after=start) if e.type == "Model.StageChanged"
    ]
    assert len(expected) == 2
    assert collect(events, 2) == expected
    # a comma-separated string is several types
    types = "Model.VersionAdded,Model.StageChanged"
    both = client.follow_events(after=start, model=unique, types=types)
    assert [e.type for e in collect(both, 4)] == ["Model.VersionAdded"] * 2 + [
        "Model.StageChanged"
    ] * 2


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"types": ["Model.Nope"]}, ValidationError),
        ({"types": "modelplane:Model.StageChanged"}, ValidationError),
        ({"after": -1}, ValidationError),
        ({"after": 2**64}, ValidationError),
        ({"after": True}, ValidationError),
        ({"model": "never-registered-anywhere"}, NotFoundError),
    ],
)
def test_bad_arguments_raise_before_the_first_event(
    sdk: Target, kwargs: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        Client().follow_events(**kwargs)


class CuttableProxy:
    """A TCP relay to a server whose connections a test can cut, as a network drop would."""

    def __init__(self, port: int) -> None:
        self._upstream = port
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self.accepted = 0
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            upstream = socket.create_connection(("127.0.0.1", self._upstream), timeout=5)
            upstream.settimeout(None)
            with self._lock:
                self.accepted += 1
                self._open += [client, upstream]
            for source, target in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, target), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            for conn in self._open:
                _close(conn)
            self._open.clear()

    def close(self) -> None:
        self._listener.close()
        self.cut()


def _pump(source: socket.socket, target: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            target.sendall(data)
    except OSError:
        pass
    finally:
        _close(source)
        _close(target)


def _close(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        conn.shutdown(socket.SHUT_RDWR)
    conn.close()


def test_a_dropped_stream_reconnects_without_missing_or_repeating(sdk: Target, unique: str) -> None:
    if sdk.server is None:
        pytest.skip("the local backend polls the log: there is no connection to drop")
    secret = os.environ["MODELPLANE_API_TOKEN"]
    writer = Client(HttpBackend(sdk.server.url, secret))
    proxy = CuttableProxy(int(urlsplit(sdk.server.url).port or 80))
    try:
        follower = Client(HttpBackend(proxy.url, secret))
        start = head(writer)
        events = follower.follow_events(after=start)
        got: list[LoggedEvent] = []
        done = threading.Event()

        def read() -> None:
            try:
                for event in events:
                    got.append(event)
                    if len(got) >= 2 * per_history:
                        break
            finally:
                events.close()  # type: ignore[attr-defined]
                done.set()

        write_history_with(writer, unique)
        per_history = len(writer.list_events(after=start, limit=10_000))
        threading.Thread(target=read, daemon=True).start()
        deadline = time.monotonic() + DEADLINE
        while len(got) < per_history:
            assert time.monotonic() < deadline, f"{len(got)} of {per_history} before the cut"
            time.sleep(0.05)
        proxy.cut()  # the stream drops between histories
        write_history_with(writer, f"{unique}-after")
        assert done.wait(DEADLINE), f"only {len(got)} of {2 * per_history} events came"
    finally:
        proxy.close()
    assert got == writer.list_events(after=start, limit=10_000)  # none missed, none repeated
    assert proxy.accepted >= 2  # it did reconnect


def write_history_with(client: Client, unique: str) -> None:
    client.create_model(unique, tags=["follow"])
    client.create_model_version(unique, name="v1")
    client.create_model_version(unique, name="v2")
    client.update_model_version(unique, "v1", stage="production", force=True)
    client.update_model_version(unique, "v2", stage="production", force=True)
