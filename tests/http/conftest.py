"""Real servers for the HTTP tests, and the few calls every test of this folder makes.

Each module gets servers of its own (module scope): a server is a subprocess with a store and
an artifact folder under a fresh home, so what one module appends or uploads never shows in
another's counts. ``server`` is SQLite; ``store_server`` runs the same tests on PostgreSQL
too, for what depends on the store (tokens are looked up in it on every request).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import create_database, drop_database
from tests.servers import RunningServer, running_server

API = "/api/v1"
TIMEOUT = httpx.Timeout(30.0)


@contextmanager
def started(
    factory: pytest.TempPathFactory,
    kind: str = "sqlite",
    workers: int = 1,
    extra_env: dict[str, str] | None = None,
) -> Iterator[RunningServer]:
    """A server over an empty store of ``kind`` (its own PostgreSQL database, dropped after)."""
    home = factory.mktemp(f"server-{kind}") / "home"
    home.mkdir()
    if kind == "sqlite":
        with running_server(home, workers=workers, extra_env=extra_env) as server:
            yield server
        return
    name, url = create_database()
    try:
        with running_server(home, url, workers=workers, extra_env=extra_env) as server:
            yield server
    finally:
        drop_database(name)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """One server over a fresh SQLite home for the tests of a module."""
    with started(tmp_path_factory) as running:
        yield running


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def store_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """A server over SQLite, then one over PostgreSQL (skipped without one, failed in CI)."""
    with started(tmp_path_factory, request.param) as running:
        yield running


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def call(
    server: RunningServer, method: str, path: str, token: str | None = None, **kwargs: Any
) -> httpx.Response:
    """One request to ``server`` (``path`` under /api/v1, as sent: no normalisation)."""
    headers = dict(kwargs.pop("headers", None) or {})
    if token is not None:
        headers.update(bearer(token))
    with httpx.Client(base_url=server.url + API, timeout=TIMEOUT) as client:
        return client.request(method, path, headers=headers, **kwargs)


def make_token(server: RunningServer, role: str, name: str | None = None) -> str:
    """A new token of ``role``, made the way an operator makes one: POST /tokens as admin."""
    name = name or f"{role}-{uuid.uuid4().hex[:10]}"
    response = call(
        server, "POST", "/tokens", server.admin_token, json={"name": name, "role": role}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["name"], body["role"]) == (name, role)
    return str(body["token"])


def revoke_token(server: RunningServer, name: str) -> None:
    response = call(server, "DELETE", f"/tokens/{name}", server.admin_token)
    assert response.status_code == 204, response.text


def ok(response: httpx.Response, status: int) -> dict[str, Any]:
    """The JSON body of ``response``, which must have ``status``."""
    assert response.status_code == status, response.text
    return dict(response.json())


def all_events(server: RunningServer, after: int = 0) -> list[dict[str, Any]]:
    """Every event of the server's log after ``after``, read page by page through GET /events."""
    found: list[dict[str, Any]] = []
    while True:
        response = call(
            server, "GET", "/events", server.admin_token, params={"after": after, "limit": 10_000}
        )
        assert response.status_code == 200, response.text
        events = response.json()
        found += events
        if len(events) < 10_000:
            return found
        after = events[-1]["position"]


def log_length(server: RunningServer) -> int:
    """How many events the server's log holds."""
    return len(all_events(server))


def hold_production(server: RunningServer, token: str, models: tuple[str, ...]) -> None:
    """Register each model with one version in production, so that every later promotion
    into production displaces a holder and no production read answers 404."""
    for model in models:
        ok(call(server, "POST", "/models", token, json={"name": model}), 201)
        version = ok(call(server, "POST", "/model_versions", token, json={"model": model}), 201)
        body = {"stage": "production"}
        ok(call(server, "PUT", f"/model_versions/{version['id']}", token, json=body), 200)


def assert_error(response: httpx.Response, status: int, kind: str | None = None) -> dict[str, Any]:
    """``response`` is the JSON error shape with ``status`` (and error type ``kind``), and
    says nothing of the server's insides; its ``error`` object is returned."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert isinstance(error["type"], str) and isinstance(error["message"], str), body
    if kind is not None:
        assert error["type"] == kind, body
    assert_no_internals(response.text)
    return dict(error)


#: what a leaked traceback or server path looks like in a body
LEAKS = ("Traceback (most recent call last)", 'File "/', "site-packages", '.py", line')


def assert_no_internals(text: str) -> None:
    for leak in LEAKS:
        assert leak not in text, f"response body leaks {leak!r}: {text[:500]}"


def artifact_folder(server: RunningServer, content_hash: str) -> Path:
    """Where the server keeps the content with this hash (``<home>/artifacts/<hh>/<hash>``)."""
    return server.home / "artifacts" / content_hash[:2] / content_hash
