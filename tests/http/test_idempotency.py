"""``Idempotency-Key`` on every write, against real server processes over each store.

A repeat of a keyed write (same token, key, method, path, query and body) gets the first
answer with ``Idempotent-Replayed: true`` and appends nothing: on the same server, on another
worker or server over the same store, and after the server was killed and started again. The
same key with another request is 422; a repeat while the first runs is 409; a refusal is kept,
a malformed request is not. The SDK sends a key with every write and, through a proxy that cuts
the connection after the server committed (or answers 503 in its place), gets the first answer:
one version.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import pytest
from sqlalchemy import insert, select
from sqlalchemy.engine import Engine

from modelplane.api.idempotency import fingerprint
from modelplane.backend import http as http_backend
from modelplane.backend.errors import ServerError
from modelplane.projections import idempotency as keys
from modelplane.projections.engine import make_engine
from modelplane.store_handle import close_all
from tests.conftest import create_database, drop_database
from tests.servers import RunningServer, running_server

from .conftest import API, assert_error, call, log_length, make_token, started

KEY = "Idempotency-Key"
REPLAYED = "idempotent-replayed"


@pytest.fixture(scope="module")
def writer(store_server: RunningServer) -> str:
    return make_token(store_server, "write")


def keyed(
    server: RunningServer, token: str, method: str, path: str, key: str, **kwargs: Any
) -> httpx.Response:
    headers = {KEY: key, **(kwargs.pop("headers", None) or {})}
    return call(server, method, path, token, headers=headers, **kwargs)


def _model(server: RunningServer, token: str) -> tuple[str, str]:
    """A new model with one version (written without keys): its name and the version's id."""
    name = f"idem-{uuid.uuid4().hex[:8]}"
    assert call(server, "POST", "/models", token, json={"name": name}).status_code == 201
    created = call(server, "POST", "/model_versions", token, json={"model": name})
    assert created.status_code == 201, created.text
    return name, str(created.json()["id"])


def _versions(server: RunningServer, token: str, model: str) -> list[dict[str, Any]]:
    found = call(server, "GET", f"/models/{model}/model_versions", token)
    assert found.status_code == 200, found.text
    return list(found.json()["items"])


#: one keyed write of each kind: (method, path, request arguments) for a model and a version
WRITES: dict[str, Any] = {
    "create model": lambda m, v: ("POST", "/models", {"json": {"name": f"{m}-2"}}),
    "create version": lambda m, v: ("POST", "/model_versions", {"json": {"model": m}}),
    "promote": lambda m, v: ("PUT", f"/model_versions/{v}", {"json": {"stage": "production"}}),
    "update model": lambda m, v: ("PUT", f"/models/{m}", {"json": {"add_tags": ["t"]}}),
    "log metadata": lambda m, v: (
        "POST",
        f"/model_versions/{v}/metadata",
        {"json": {"metadata": {"accuracy": 0.9}}},
    ),
    "delete version": lambda m, v: ("DELETE", f"/model_versions/{v}", {"params": {"reason": "r"}}),
    "delete model": lambda m, v: ("DELETE", f"/models/{m}", {}),
}


@pytest.mark.parametrize("write", list(WRITES))
def test_a_repeat_gets_the_first_answer_and_appends_nothing(
    store_server: RunningServer, writer: str, write: str
) -> None:
    method, path, arguments = WRITES[write](*_model(store_server, writer))
    key = str(uuid.uuid4())
    before = log_length(store_server)
    first = keyed(store_server, writer, method, path, key, **arguments)
    assert first.status_code in (200, 201, 204), first.text
    assert REPLAYED not in first.headers
    head = log_length(store_server)
    assert head > before
    for _ in range(2):
        again = keyed(store_server, writer, method, path, key, **arguments)
        assert (again.status_code, again.content) == (first.status_code, first.content)
        assert again.headers[REPLAYED] == "true"
        assert again.headers.get("content-type") == first.headers.get("content-type")
    assert log_length(store_server) == head
    if method == "DELETE":  # the replay is the first answer, not a second deletion (404)
        assert call(store_server, method, path, writer, **arguments).status_code == 404


def test_the_same_key_with_another_request_is_422_and_runs_nothing(
    store_server: RunningServer, writer: str
) -> None:
    model, _ = _model(store_server, writer)
    key = str(uuid.uuid4())
    first = keyed(store_server, writer, "POST", "/model_versions", key, json={"model": model})
    assert first.status_code == 201, first.text
    head = log_length(store_server)
    others = [
        ("POST", "/model_versions", {"json": {"model": model, "name": "other"}}),
        ("POST", "/models", {"json": {"name": f"{model}-x"}}),
        ("POST", "/model_versions", {"json": {"model": model}, "params": {"q": "1"}}),
    ]
    for method, path, arguments in others:
        answer = keyed(store_server, writer, method, path, key, **arguments)
        assert "key" in assert_error(answer, 422, "IdempotencyKeyReusedError")["message"]
    assert log_length(store_server) == head
    assert len(_versions(store_server, writer, model)) == 2


def test_keys_belong_to_their_token(store_server: RunningServer, writer: str) -> None:
    model, _ = _model(store_server, writer)
    other = make_token(store_server, "write")
    key = str(uuid.uuid4())
    body = {"json": {"model": model}}
    mine = keyed(store_server, writer, "POST", "/model_versions", key, **body)
    theirs = keyed(store_server, other, "POST", "/model_versions", key, **body)
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert REPLAYED not in theirs.headers and mine.json()["id"] != theirs.json()["id"]
    assert len(_versions(store_server, writer, model)) == 3


def test_a_malformed_key_is_400(store_server: RunningServer, writer: str) -> None:
    model, _ = _model(store_server, writer)
    head = log_length(store_server)
    for key in ("k" * 256, b"caf\xc3\xa9", b"tab\there"):
        answer = call(
            store_server,
            "POST",
            "/model_versions",
            writer,
            headers={KEY: key},
            json={"model": model},
        )
        assert KEY in assert_error(answer, 400, "ValidationError")["message"]
    assert log_length(store_server) == head
    longest = keyed(
        store_server, writer, "POST", "/model_versions", "k" * 255, json={"model": model}
    )
    assert longest.status_code == 201, longest.text


def test_a_refusal_is_kept_so_a_retry_cannot_apply_it_later(
    store_server: RunningServer, writer: str
) -> None:
    model = f"idem-{uuid.uuid4().hex[:8]}"
    key = str(uuid.uuid4())
    body = {"json": {"model": model}}
    refused = keyed(store_server, writer, "POST", "/model_versions", key, **body)
    assert_error(refused, 404, "NotFoundError")
    assert call(store_server, "POST", "/models", writer, json={"name": model}).status_code == 201
    head = log_length(store_server)

    again = keyed(store_server, writer, "POST", "/model_versions", key, **body)

    assert (again.status_code, again.content) == (404, refused.content)
    assert again.headers[REPLAYED] == "true"
    assert log_length(store_server) == head


def test_a_malformed_request_is_not_kept(store_server: RunningServer, writer: str) -> None:
    model, _ = _model(store_server, writer)
    key = str(uuid.uuid4())
    malformed = keyed(store_server, writer, "POST", "/model_versions", key, json={"modle": 1})
    assert_error(malformed, 422, "RequestValidationError")
    done = keyed(store_server, writer, "POST", "/model_versions", key, json={"model": model})
    assert done.status_code == 201 and REPLAYED not in done.headers


def test_writes_without_a_key_are_not_kept(store_server: RunningServer, writer: str) -> None:
    model, _ = _model(store_server, writer)
    for _ in range(2):
        answer = call(store_server, "POST", "/model_versions", writer, json={"model": model})
        assert answer.status_code == 201 and REPLAYED not in answer.headers
    assert len(_versions(store_server, writer, model)) == 3


def test_a_token_is_never_kept_a_repeat_finds_its_name_taken(store_server: RunningServer) -> None:
    name = f"t-{uuid.uuid4().hex[:8]}"
    body = {"json": {"name": name, "role": "read"}}
    key = str(uuid.uuid4())
    admin = store_server.admin_token
    assert keyed(store_server, admin, "POST", "/tokens", key, **body).status_code == 201
    assert_error(keyed(store_server, admin, "POST", "/tokens", key, **body), 409)


def _race(
    servers: list[RunningServer], token: str, model: str, count: int = 8
) -> list[httpx.Response]:
    """``count`` threads send one keyed create at once (round robin over ``servers``)."""
    key = str(uuid.uuid4())
    answers: list[httpx.Response] = []
    start = threading.Barrier(count)

    def send(n: int) -> None:
        start.wait()
        server = servers[n % len(servers)]
        answers.append(keyed(server, token, "POST", "/model_versions", key, json={"model": model}))

    threads = [threading.Thread(target=send, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def _one_answer(answers: list[httpx.Response]) -> dict[str, Any]:
    """Every answer is the first answer or 409 in progress; returns the first answer."""
    done = [a for a in answers if a.status_code == 201]
    assert done, [(a.status_code, a.text[:200]) for a in answers]
    assert len({a.content for a in done}) == 1
    assert sum(REPLAYED not in a.headers for a in done) <= 1
    for answer in answers:
        if answer.status_code != 201:
            assert_error(answer, 409, "IdempotencyInProgressError")
            assert int(answer.headers["retry-after"]) >= 1
    return dict(done[0].json())


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def two_workers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    with started(tmp_path_factory, request.param, workers=2) as server:
        yield server


def test_concurrent_repeats_on_two_workers_run_once(two_workers: RunningServer) -> None:
    token = make_token(two_workers, "write")
    for _ in range(3):
        model, _ = _model(two_workers, token)
        first = _one_answer(_race([two_workers], token, model))
        versions = _versions(two_workers, token, model)
        assert len(versions) == 2 and first["id"] in {v["id"] for v in versions}


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, RunningServer]]:
    """Two servers over one PostgreSQL database (and one home)."""
    name, url = create_database()
    home: Path = tmp_path_factory.mktemp("idempotency-pair") / "home"
    home.mkdir()
    try:
        with running_server(home, url) as first, running_server(home, url) as second:
            yield first, second
    finally:
        drop_database(name)


def test_a_key_used_through_one_server_holds_on_the_other(
    pair: tuple[RunningServer, RunningServer],
) -> None:
    first, second = pair
    token = make_token(first, "write")
    model, _ = _model(first, token)
    key = str(uuid.uuid4())
    answer = keyed(first, token, "POST", "/model_versions", key, json={"model": model})
    head = log_length(first)
    again = keyed(second, token, "POST", "/model_versions", key, json={"model": model})
    assert (again.content, again.headers[REPLAYED]) == (answer.content, "true")
    other = keyed(second, token, "POST", "/models", key, json={"name": f"{model}-x"})
    assert_error(other, 422, "IdempotencyKeyReusedError")
    assert log_length(second) == head
    raced, _ = _model(first, token)
    _one_answer(_race([first, second], token, raced))
    assert len(_versions(second, token, raced)) == 2


def _store_url(server: RunningServer) -> str:
    return server.store_url or f"sqlite:///{server.home / 'modelplane.db'}"


@contextmanager
def _engine(server: RunningServer) -> Iterator[Engine]:
    engine = make_engine(_store_url(server))
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def store_home(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Path, str | None]]:
    """A home (and for PostgreSQL a database) that servers are started on one after another."""
    home = tmp_path / "home"
    home.mkdir()
    if request.param == "sqlite":
        yield home, None
        return
    name, url = create_database()
    try:
        yield home, url
    finally:
        drop_database(name)


def test_answers_outlive_a_killed_server_and_a_dead_claim_is_taken_over(
    store_home: tuple[Path, str | None],
) -> None:
    home, url = store_home
    body = b'{"model": "m"}'
    request = {"content": body, "headers": {"Content-Type": "application/json"}}
    with running_server(home, url) as server:
        token = make_token(server, "write", "writer")
        assert call(server, "POST", "/models", token, json={"name": "m"}).status_code == 201
        answer = keyed(server, token, "POST", "/model_versions", "kept", **request)
        assert answer.status_code == 201, answer.text
        os.kill(server.pid, signal.SIGKILL)  # after the commit: the answer is on disk
        # what a server killed between claiming a key and committing leaves behind: a running
        # claim, and no event (its transaction never committed)
        with _engine(server) as engine:
            digest = fingerprint("POST", f"{API}/model_versions".encode(), b"", body)
            expired = datetime.now(UTC) - timedelta(seconds=1)
            _claimed(engine, "writer", "dead", digest, lease_until=expired)
            _claimed(engine, "writer", "alive", digest, lease_until=expired + timedelta(hours=1))
    with running_server(home, url) as server:
        head = log_length(server)
        again = keyed(server, token, "POST", "/model_versions", "kept", **request)
        assert (again.status_code, again.content) == (201, answer.content)
        assert again.headers[REPLAYED] == "true"
        assert log_length(server) == head
        busy = keyed(server, token, "POST", "/model_versions", "alive", **request)
        assert_error(busy, 409, "IdempotencyInProgressError")
        assert 3000 < int(busy.headers["retry-after"]) <= 3600
        assert log_length(server) == head
        taken = keyed(server, token, "POST", "/model_versions", "dead", **request)
        assert taken.status_code == 201 and REPLAYED not in taken.headers, taken.text
        replayed = keyed(server, token, "POST", "/model_versions", "dead", **request)
        assert replayed.content == taken.content and replayed.headers[REPLAYED] == "true"
        assert sorted(v["number"] for v in _versions(server, token, "m")) == [1, 2]


def _claimed(engine: Engine, token: str, key: str, digest: str, lease_until: datetime) -> None:
    keys.ensure_table(engine)
    now = datetime.now(UTC)
    row = {
        "token": token,
        "key": key,
        "fingerprint": digest,
        "state": keys.RUNNING,
        "claim": uuid.uuid4().hex,
        "lease_until": lease_until,
        "created_at": now,
        "expires_at": now + timedelta(days=1),
    }
    with engine.begin() as conn:
        conn.execute(insert(keys.keys).values(row))


def test_an_expired_key_is_a_new_request(tmp_path_factory: pytest.TempPathFactory) -> None:
    env = {"MODELPLANE_IDEMPOTENCY_TTL_SECONDS": "1"}
    with started(tmp_path_factory, extra_env=env) as server:
        token = make_token(server, "write", "writer")
        model, _ = _model(server, token)
        first = keyed(server, token, "POST", "/model_versions", "k", json={"model": model})
        with _engine(server) as engine:
            # waits for the row to expire (read from the store, not guessed from a clock)
            query = select(keys.keys.c.expires_at).where(keys.keys.c.key == "k")
            with engine.connect() as conn:
                expires = conn.execute(query).scalar_one()
            while datetime.now(UTC) <= expires:
                time.sleep(0.05)
        again = keyed(server, token, "POST", "/model_versions", "k", json={"model": model})
        assert again.status_code == 201 and REPLAYED not in again.headers
        assert again.json()["id"] != first.json()["id"]
        assert len(_versions(server, token, model)) == 3


class CuttingProxy:
    """A loopback HTTP/1.1 relay to a server that, the first ``times`` a request starts with
    ``target``, forwards it, reads the server's whole answer, and then either closes the
    client's connection without sending it (``cut``) or sends a 503 in its place (``503``).
    It keeps each request's line and ``Idempotency-Key`` and the answers it swallowed."""

    def __init__(self, upstream: str, target: bytes, mode: str, times: int = 1) -> None:
        host, port = upstream.removeprefix("http://").split(":")
        self.upstream = (host, int(port))
        self.target, self.mode = target, mode
        self.swallowed: list[bytes] = []
        self.requests: list[tuple[bytes, str | None]] = []
        self._armed = times
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        with client, socket.create_connection(self.upstream) as server:
            from_client, from_server = client.makefile("rb"), server.makefile("rb")
            while True:
                head, length, key = _head(from_client)
                if not head:
                    return
                request = head + from_client.read(length)
                with self._lock:
                    self.requests.append((head.split(b"\r\n", 1)[0], key))
                    hit = self._armed > 0 and head.startswith(self.target)
                    self._armed -= hit
                server.sendall(request)
                answer_head, answer_length, _ = _head(from_server)
                answer_body = from_server.read(answer_length)
                if hit:
                    self.swallowed.append(answer_body)
                    if self.mode == "503":
                        client.sendall(
                            b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\n"
                            b"connection: close\r\n\r\n"
                        )
                    return  # cut: the client's connection closes with no answer
                client.sendall(answer_head + answer_body)


def _head(stream: BinaryIO) -> tuple[bytes, int, str | None]:
    """A message's head (up to its blank line), its Content-Length and Idempotency-Key."""
    lines = []
    length, key = 0, None
    while True:
        line = stream.readline()
        if not line:
            return b"", 0, None
        lines.append(line)
        if line in (b"\r\n", b"\n"):
            return b"".join(lines), length, key
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
        elif name.strip().lower() == KEY.lower():
            key = value.strip()


@pytest.fixture
def sdk_through(
    store_server: RunningServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Any]:
    """Makes an SDK ``Client`` that reaches ``store_server`` through a ``CuttingProxy``."""
    token = make_token(store_server, "write")
    proxies: list[CuttingProxy] = []

    def make(mode: str, times: int = 1) -> tuple[Any, CuttingProxy]:
        from modelplane.client import Client

        target = f"POST {API}/model_versions ".encode()
        proxy = CuttingProxy(store_server.url, target, mode, times)
        proxies.append(proxy)
        monkeypatch.setenv("MODELPLANE_SERVER_URL", proxy.url)
        return Client(), proxy

    close_all()
    monkeypatch.delenv("MODELPLANE_STORE_URL", raising=False)
    monkeypatch.delenv("MODELPLANE_ACTOR", raising=False)
    monkeypatch.setenv("MODELPLANE_HOME", str(tmp_path / "client-home"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("MODELPLANE_API_TOKEN", token)
    yield make
    http_backend.close_all()
    close_all()
    for proxy in proxies:
        proxy.close()


@pytest.mark.parametrize("mode", ["cut", "503"])
def test_the_sdk_retrying_after_the_server_committed_gets_the_first_answer(
    store_server: RunningServer, sdk_through: Any, mode: str
) -> None:
    client, proxy = sdk_through(mode)
    model = f"idem-{uuid.uuid4().hex[:8]}"
    client.create_model(model)
    before = log_length(store_server)
    version = client.create_model_version(model, tags=["once"])
    first = json.loads(proxy.swallowed[0])  # the answer the client never got
    assert (str(version.id), version.number, version.tags) == (first["id"], 1, ["once"])
    assert [v.id for v in client.list_model_versions(model).items] == [version.id]
    events = call(
        store_server, "GET", "/events", store_server.admin_token, params={"after": before}
    ).json()
    assert [e["type"] for e in events].count("ModelVersion.Created") == 1
    # every write carried a key, and the retry the same key as the attempt it repeats
    writes = [(line, key) for line, key in proxy.requests if not line.startswith(b"GET ")]
    assert writes and all(key for _, key in writes)
    creates = [
        key for line, key in writes if line.startswith(f"POST {API}/model_versions ".encode())
    ]
    assert len(creates) == 2 and creates[0] == creates[1]
    assert len({key for _, key in writes}) == len(writes) - 1


def test_the_sdk_gives_up_after_its_retries_and_still_wrote_once(
    store_server: RunningServer, sdk_through: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELPLANE_HTTP_RETRIES", "2")
    client, proxy = sdk_through("cut", times=3)
    model = f"idem-{uuid.uuid4().hex[:8]}"
    client.create_model(model)
    with pytest.raises(ServerError, match=r"\(3 attempts\)"):
        client.create_model_version(model)
    assert len(proxy.swallowed) == 3 and len(set(proxy.swallowed)) == 1  # two were replays
    target = f"POST {API}/model_versions ".encode()
    creates = [key for line, key in proxy.requests if line.startswith(target)]
    assert len(creates) == 3 and len(set(creates)) == 1
    assert len(client.list_model_versions(model).items) == 1
