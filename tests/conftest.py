"""Fixtures: every store-backed test runs on SQLite and on a real PostgreSQL server.

PostgreSQL tests use a database of their own, created for this pytest process and dropped
at the end, so concurrent test runs never share tables. Without a reachable server they
are skipped, unless ``MODELPLANE_REQUIRE_POSTGRES=1`` (set by CI), which makes that a
failure.

``store`` gives each test a fresh, empty store. ``module_store`` gives the tests of one
module a store of their own to share, so that one fixture can write a scenario once and
several tests each check one thing about it (those tests only read).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import psycopg
import pytest

from modelplane.store_handle import close_all

if TYPE_CHECKING:
    from modelplane.client import Client
    from modelplane.store_handle import Store

PG_ADMIN_DSN = os.environ.get(
    "MODELPLANE_TEST_PG_DSN", "host=127.0.0.1 port=5432 user=postgres dbname=test"
)
REQUIRE_POSTGRES = os.environ.get("MODELPLANE_REQUIRE_POSTGRES") == "1"


def _pg_available() -> str | None:
    try:
        with psycopg.connect(PG_ADMIN_DSN, connect_timeout=3):
            return None
    except psycopg.Error as error:
        return str(error).strip()


def create_database(template: str | None = None) -> tuple[str, str]:
    """A new PostgreSQL database, empty or a copy of the database ``template``: its name and
    SQLAlchemy URL (skipped or failed, as the module says, without a server)."""
    problem = _pg_available()
    if problem is not None:
        if REQUIRE_POSTGRES:
            pytest.fail(
                f"PostgreSQL is required (MODELPLANE_REQUIRE_POSTGRES=1) but unreachable: {problem}"
            )
        pytest.skip(f"PostgreSQL unreachable: {problem}")
    name = f"mp_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    copy = "" if template is None else f' TEMPLATE "{template}"'
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"{copy}')
    params = dict(item.split("=", 1) for item in PG_ADMIN_DSN.split())
    user, host = params.get("user", "postgres"), params.get("host", "127.0.0.1")
    return name, f"postgresql+psycopg://{user}@{host}:{params.get('port', '5432')}/{name}"


def drop_database(name: str) -> None:
    """Drop a database ``create_database`` made (after closing this process's stores)."""
    close_all()
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test process; yields its SQLAlchemy URL."""
    name, url = create_database()
    yield url
    drop_database(name)


def reset_postgres(url: str) -> None:
    """Drop every table in the test database (between tests)."""
    dsn = url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


@pytest.fixture(params=["sqlite", "postgres"])
def store(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """Point the SDK at a fresh, empty store; yields "sqlite" or "postgres"."""
    close_all()
    monkeypatch.setenv("MODELPLANE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MODELPLANE_ACTOR", "tester")
    monkeypatch.delenv("MODELPLANE_STORE_URL", raising=False)
    if request.param == "postgres":
        url = request.getfixturevalue("pg_database")
        reset_postgres(url)
        monkeypatch.setenv("MODELPLANE_STORE_URL", url)
    yield request.param
    close_all()


@dataclass(frozen=True)
class SharedStore:
    """A store shared by the tests of one module: which kind, and the variables that name it."""

    kind: str
    env: dict[str, str]

    @contextmanager
    def active(self) -> Iterator[None]:
        """Point this process's SDK at the store (for writing a scenario, or reading it)."""
        close_all()
        with pytest.MonkeyPatch.context() as patch:
            patch.delenv("MODELPLANE_STORE_URL", raising=False)
            for key, value in self.env.items():
                patch.setenv(key, value)
            try:
                yield
            finally:
                close_all()


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def module_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SharedStore]:
    """An empty store for one module's tests to share: a SQLite home, or a PostgreSQL database
    of its own (``store`` empties ``pg_database`` before each test, which may run between
    these). It never changes ``os.environ`` itself: ``SharedStore.active`` does, for a while."""
    env = {
        "MODELPLANE_HOME": str(tmp_path_factory.mktemp("shared") / "home"),
        "MODELPLANE_ACTOR": "tester",
    }
    if request.param == "sqlite":
        yield SharedStore("sqlite", env)
        close_all()
        return
    name, url = create_database()
    try:
        yield SharedStore("postgres", env | {"MODELPLANE_STORE_URL": url})
    finally:
        drop_database(name)


@pytest.fixture
def client(store: str):  # type: ignore[no-untyped-def]
    from modelplane.client import Client

    return Client()


def store_of(client: Client) -> Store:
    """The store under a client's local backend: tests read the log and the tables, and
    write through the domain registry, where no SDK call reaches."""
    from modelplane.backend.local import LocalBackend

    backend = client.backend
    assert isinstance(backend, LocalBackend), f"not a local backend: {backend!r}"
    return backend.store


@pytest.fixture(autouse=True)
def _no_environment_leaks() -> Iterator[None]:
    """Fail a test that leaves the process environment changed for the next one.

    Autouse fixtures are set up first and torn down last, so ``monkeypatch`` has already
    restored what it changed when this compares.
    """
    before = dict(os.environ)
    yield
    after = dict(os.environ)
    # pytest's own (set per phase), and what importing scikit-learn's OpenMP runtime sets
    # once for the whole process.
    for own in ("PYTEST_CURRENT_TEST", "KMP_DUPLICATE_LIB_OK", "KMP_INIT_AT_FORK"):
        before.pop(own, None)
        after.pop(own, None)
    if after != before:
        changed = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        pytest.fail(f"the test left the environment changed: {changed}", pytrace=False)
