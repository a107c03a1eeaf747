"""Fixtures: every store-backed test runs on SQLite and on a real PostgreSQL server.

PostgreSQL tests use a database of their own, created for this pytest process and dropped
at the end, so concurrent test runs never share tables. Without a reachable server they
are skipped, unless ``MODELPLANE_REQUIRE_POSTGRES=1`` (set by CI), which makes that a
failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from modelplane.store_handle import close_all

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


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test process; yields its SQLAlchemy URL."""
    problem = _pg_available()
    if problem is not None:
        if REQUIRE_POSTGRES:
            pytest.fail(
                f"PostgreSQL is required (MODELPLANE_REQUIRE_POSTGRES=1) but unreachable: {problem}"
            )
        pytest.skip(f"PostgreSQL unreachable: {problem}")
    name = f"mp_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    params = dict(item.split("=", 1) for item in PG_ADMIN_DSN.split())
    user, host = params.get("user", "postgres"), params.get("host", "127.0.0.1")
    url = f"postgresql+psycopg://{user}@{host}:{params.get('port', '5432')}/{name}"
    yield url
    close_all()
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


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


@pytest.fixture
def client(store: str):  # type: ignore[no-untyped-def]
    from modelplane.client import Client

    return Client()


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
