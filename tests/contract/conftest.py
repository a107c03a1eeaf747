"""The SDK contract runs against each backend: local, and HTTP to a real server process.

``sdk`` points this process's SDK at one of them for a test: ``local`` (a SQLite store, as
without a server), ``http-sqlite`` and ``http-postgres`` (``modelplane server start`` over that
store, reached through ``MODELPLANE_SERVER_URL`` with a token named ``contract``). A server is
started once per module and kind; tests keep out of each other's way by using names of their
own (``unique``), so they can share it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from modelplane.backend import http as http_backend
from modelplane.store_handle import close_all
from tests.conftest import create_database, drop_database
from tests.servers import RunningServer, running_server

KINDS = ["local", "http-sqlite", "http-postgres"]


@dataclass(frozen=True)
class Target:
    """Where the SDK points in a test: the kind, the actor its events record, the server."""

    kind: str
    actor: str
    server: RunningServer | None = None

    @property
    def remote(self) -> bool:
        return self.server is not None


def token(server: RunningServer, name: str, role: str) -> str:
    answer = httpx.post(
        f"{server.url}/api/v1/tokens",
        json={"name": name, "role": role},
        headers={"Authorization": f"Bearer {server.admin_token}"},
    )
    assert answer.status_code == 201, answer.text
    return str(answer.json()["token"])


@pytest.fixture(scope="module", params=KINDS)
def backend_kind(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, RunningServer | None, str]]:
    """One per module and kind: (kind, the server or None, the token the SDK uses)."""
    kind = request.param
    if kind == "local":
        yield kind, None, ""
        return
    home = tmp_path_factory.mktemp("server") / "home"
    home.mkdir()
    if kind == "http-sqlite":
        with running_server(home) as server:
            yield kind, server, token(server, "contract", "admin")
        return
    name, url = create_database()
    try:
        with running_server(home, store_url=url) as server:
            yield kind, server, token(server, "contract", "admin")
    finally:
        drop_database(name)


@pytest.fixture
def sdk(
    backend_kind: tuple[str, RunningServer | None, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[Target]:
    """This test's SDK points at the module's backend of this kind."""
    kind, server, secret = backend_kind
    close_all()
    monkeypatch.delenv("MODELPLANE_STORE_URL", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    if server is None:
        home = tmp_path.parent / "contract-local-home"  # shared by the module's local tests
        monkeypatch.setenv("MODELPLANE_HOME", str(home))
        monkeypatch.setenv("MODELPLANE_ACTOR", "contract")
        yield Target(kind, "contract")
    else:
        monkeypatch.setenv("MODELPLANE_HOME", str(tmp_path / "client-home"))
        monkeypatch.delenv("MODELPLANE_ACTOR", raising=False)
        monkeypatch.setenv("MODELPLANE_SERVER_URL", server.url)
        monkeypatch.setenv("MODELPLANE_API_TOKEN", secret)
        yield Target(kind, "contract", server)
    close_all()
    http_backend.close_all()


@pytest.fixture
def unique() -> str:
    """A name no other test of the module uses."""
    return f"m-{uuid.uuid4().hex[:10]}"
