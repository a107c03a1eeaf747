"""A modelplane server per module and store (SQLite, then PostgreSQL), and an unmodified
``MlflowClient`` pointed at it with a modelplane token, as an MLflow user would point one.

The token is a ``write`` token with a name of its own, so the tests can check that what MLflow
wrote is recorded with that name as actor. ``MLFLOW_TRACKING_TOKEN`` is read by the client on
every request (sent as ``Authorization: Bearer``); retries are cut to one, so a server error
fails a test at once instead of after MLflow's backoff.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from mlflow import MlflowClient

from tests.http.conftest import make_token, started
from tests.servers import RunningServer

PREFIX = "/api/2.0/mlflow"


@pytest.fixture(scope="module", autouse=True)
def quiet_mlflow() -> Iterator[None]:
    """MLflow's client sends usage telemetry unless told not to (and notes its session in the
    environment): off for these tests, and the environment restored after."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_DISABLE_TELEMETRY", "true")
        patch.delenv("_MLFLOW_TELEMETRY_SESSION_ID", raising=False)
        yield


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def mlflow_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    with started(tmp_path_factory, request.param) as server:
        yield server


@pytest.fixture(scope="module")
def actor() -> str:
    return f"mlflow-ci-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def token(mlflow_server: RunningServer, actor: str) -> str:
    return make_token(mlflow_server, "write", actor)


@pytest.fixture
def client(
    mlflow_server: RunningServer, token: str, monkeypatch: pytest.MonkeyPatch
) -> MlflowClient:
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")
    return MlflowClient(tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url)


@pytest.fixture
def unique() -> str:
    """A prefix for the names one test makes (the module's tests share a server)."""
    return f"t{uuid.uuid4().hex[:8]}-"
