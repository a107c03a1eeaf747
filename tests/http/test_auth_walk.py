"""Who may call what, walked over every operation the server's own ``/openapi.json`` lists.

The walk is driven by the spec, so a route added later is covered without touching this file:
each operation is called with each kind of bad credentials (none, malformed, revoked: 401 with
``WWW-Authenticate: Bearer``), a read token on what changes anything and a write token on the
admin routes (403), each time with a body the route's own schema accepts, so what answers is
the authorization and not the body check. Nothing refused may reach the log. The same walk
checks the other side: the tokens that may call a route are not refused by it, so the admin
list below cannot silently miss an admin route.
"""

from __future__ import annotations

import http.client
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.servers import RunningServer

from .conftest import (
    API,
    TIMEOUT,
    assert_error,
    bearer,
    call,
    log_length,
    make_token,
    revoke_token,
    started,
)

#: routes only the admin role may call; every one must be in the spec (checked below), and a
#: write token refused by a route missing here fails ``test_allowed_tokens_are_not_refused``
ADMIN_ROUTES = {
    ("GET", "/api/v1/tokens"),
    ("POST", "/api/v1/tokens"),
    ("DELETE", "/api/v1/tokens/{name}"),
    ("POST", "/api/v1/replay"),
    ("GET", "/api/v1/log"),
    ("POST", "/api/v1/webhooks"),
    ("GET", "/api/v1/webhooks"),
    ("GET", "/api/v1/webhooks/{webhook_id}"),
    ("DELETE", "/api/v1/webhooks/{webhook_id}"),
    ("GET", "/api/v1/webhooks/{webhook_id}/deliveries"),
}
PUBLIC_ROUTES = {("GET", "/api/v1/health")}
READ_METHODS = {"GET", "HEAD"}
#: reads sent as a POST (MLflow's client asks for the latest versions by POST, then GET)
READ_ROUTES_BY_POST = {("POST", "/api/2.0/mlflow/registered-models/get-latest-versions")}
#: MLflow's registry API answers in MLflow's error shape, with MLflow's codes
MLFLOW_PREFIX = "/api/2.0/mlflow/"
MLFLOW_CODES = {401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED"}
METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    spec: dict[str, Any]
    components: dict[str, Any]

    def __str__(self) -> str:
        return f"{self.method} {self.template}"

    @property
    def reads(self) -> bool:
        return self.method in READ_METHODS or (self.method, self.template) in READ_ROUTES_BY_POST

    @property
    def path(self) -> str:
        """The template with each path parameter filled with a plausible value."""
        path = self.template
        for param in self.spec.get("parameters", []):
            if param["in"] == "path":
                value = _instance(param["schema"], self.components, param["name"])
                path = path.replace("{" + param["name"] + "}", str(value))
        return path

    def request(self) -> dict[str, Any]:
        """httpx arguments sending a body this route's schema accepts (if it takes one)."""
        content = self.spec.get("requestBody", {}).get("content", {})
        if "application/json" in content:
            body = _instance(content["application/json"]["schema"], self.components, "body")
            return {"json": body}
        if content:
            media = next(iter(content))
            return {"content": b"not really a tar", "headers": {"Content-Type": media}}
        return {}


def _instance(schema: dict[str, Any], components: dict[str, Any], name: str) -> Any:
    """The smallest value ``schema`` accepts: required fields only, plausible scalars (a
    fresh uuid4 for an id, a name otherwise)."""
    if "$ref" in schema:
        target = schema["$ref"].removeprefix("#/components/schemas/")
        return _instance(components["schemas"][target], components, name)
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"]
            return _instance(options[0], components, name)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties", {})
        return {
            field: _instance(properties[field], components, field)
            for field in schema.get("required", [])
        }
    if kind == "array":
        return []
    if kind in ("integer", "number"):
        return schema.get("minimum", 0)
    if kind == "boolean":
        return False
    if schema.get("format") == "uuid":
        return str(uuid.uuid4())
    if schema.get("format") == "date-time":
        return datetime.now(UTC).isoformat()
    return f"walk-{name.replace('_', '-')}"


def operations(spec: dict[str, Any]) -> list[Operation]:
    found = [
        Operation(method.upper(), path, operation, spec.get("components", {}))
        for path, methods in spec["paths"].items()
        for method, operation in methods.items()
        if method in METHODS
    ]
    return sorted(found, key=str)


def assert_refused(op: Operation, response: httpx.Response, status: int, kind: str) -> None:
    """The refusal in the route's own error shape: modelplane's, or MLflow's on its API."""
    if not op.template.startswith(MLFLOW_PREFIX):
        assert_error(response, status, kind)
        return
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.json()["error_code"] == MLFLOW_CODES[status], response.text[:500]


def send(server: RunningServer, op: Operation, headers: dict[str, Any]) -> httpx.Response:
    """One call of ``op``; a stream that would stay open is closed once its status is in."""
    arguments = op.request()
    arguments["headers"] = {**arguments.get("headers", {}), **headers}
    with (
        httpx.Client(base_url=server.url, timeout=TIMEOUT) as client,
        client.stream(op.method, op.path, **arguments) as response,
    ):
        if "text/event-stream" not in response.headers.get("content-type", ""):
            response.read()
        return response


@pytest.fixture(scope="module")
def spec(store_server: RunningServer) -> dict[str, Any]:
    response = httpx.get(store_server.url + "/openapi.json", timeout=TIMEOUT)
    assert response.status_code == 200
    return dict(response.json())


@pytest.fixture(scope="module")
def walked(spec: dict[str, Any]) -> list[Operation]:
    found = operations(spec)
    listed = {(op.method, op.template) for op in found}
    assert len(found) >= 40, f"the spec lists only {len(found)} operations"
    assert listed >= ADMIN_ROUTES | PUBLIC_ROUTES, (ADMIN_ROUTES | PUBLIC_ROUTES) - listed
    return [op for op in found if (op.method, op.template) not in PUBLIC_ROUTES]


def _revoked(server: RunningServer) -> str:
    name = f"gone-{uuid.uuid4().hex[:8]}"
    token = make_token(server, "write", name)
    revoke_token(server, name)
    return token


#: Authorization header values no server may accept; None: no header at all
BAD_CREDENTIALS: dict[str, Any] = {
    "none": None,
    "bearer-x": "Bearer x",
    "basic": "Basic abc",
    "bearer-alone": "Bearer",
    "huge": "Bearer " + "m" * 5000,
    "non-ascii": "Bearer mp_tök€n".encode(),
    "latin-1": b"Bearer \xff\xfe",
    "wrong-secret": None,  # filled per server: a real token id with another secret
    "revoked": None,  # filled per server
}


@pytest.mark.parametrize("kind", sorted(BAD_CREDENTIALS))
def test_bad_credentials_are_refused_everywhere_and_append_nothing(
    store_server: RunningServer, walked: list[Operation], kind: str
) -> None:
    value = BAD_CREDENTIALS[kind]
    if kind == "revoked":
        value = "Bearer " + _revoked(store_server)
    elif kind == "wrong-secret":
        real = make_token(store_server, "admin")
        value = "Bearer " + real[:-43] + "A" * 43
    headers = {} if value is None else {"Authorization": value}
    before = log_length(store_server)
    wrong = []
    for op in walked:
        response = send(store_server, op, headers)
        if response.status_code != 401 or response.headers.get("www-authenticate") != "Bearer":
            wrong.append(f"{op}: {response.status_code} {response.text[:200]}")
            continue
        if op.method != "HEAD":
            assert_refused(op, response, 401, "AuthenticationError")
    assert not wrong, "\n".join(wrong)
    assert log_length(store_server) == before


def test_only_health_answers_without_a_token(
    store_server: RunningServer, spec: dict[str, Any]
) -> None:
    response = httpx.get(f"{store_server.url}{API}/health", timeout=TIMEOUT)
    assert (response.status_code, response.json()) == (200, {"status": "ok"})
    for op in operations(spec):
        secured = bool(op.spec.get("security"))
        assert secured == ((op.method, op.template) not in PUBLIC_ROUTES), op


def test_a_read_token_changes_nothing(store_server: RunningServer, walked: list[Operation]) -> None:
    token = make_token(store_server, "read")
    before = log_length(store_server)
    wrong = []
    for op in walked:
        if op.reads and (op.method, op.template) not in ADMIN_ROUTES:
            continue
        response = send(store_server, op, bearer(token))
        if response.status_code != 403:
            wrong.append(f"{op}: {response.status_code} {response.text[:200]}")
            continue
        assert_refused(op, response, 403, "PermissionDeniedError")
    assert not wrong, "\n".join(wrong)
    assert log_length(store_server) == before


def test_a_write_token_cannot_administer(
    store_server: RunningServer, walked: list[Operation]
) -> None:
    token = make_token(store_server, "write")
    before = log_length(store_server)
    for op in walked:
        if (op.method, op.template) in ADMIN_ROUTES:
            assert_error(send(store_server, op, bearer(token)), 403, "PermissionDeniedError")
    assert log_length(store_server) == before


def test_allowed_tokens_are_not_refused(
    store_server: RunningServer, walked: list[Operation]
) -> None:
    """The other side of the walk: a read token may read, a write token may do all but
    administer, an admin token everything (the answer may be 404 or 400 for the made-up
    values, never 401 or 403). Run last: it changes the store."""
    tokens = {role: make_token(store_server, role) for role in ("read", "write")}
    tokens["admin"] = store_server.admin_token
    wrong = []
    for op in walked:
        if (op.method, op.template) in ADMIN_ROUTES:
            roles = ["admin"]
        elif op.reads:
            roles = ["read", "write", "admin"]
        else:
            roles = ["write", "admin"]
        for role in roles:
            response = send(store_server, op, bearer(tokens[role]))
            if response.status_code in (401, 403) or response.status_code >= 500:
                wrong.append(f"{op} as {role}: {response.status_code} {response.text[:200]}")
    assert not wrong, "\n".join(wrong)


# ---------------------------------------------------------------- several workers


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _worker_of(connection: http.client.HTTPConnection, server: RunningServer) -> int:
    """The pid of the server process holding the other end of ``connection``."""
    assert connection.sock is not None
    client_port = connection.sock.getsockname()[1]
    server_port = int(server.url.rsplit(":", 1)[1])
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote = fields[1], fields[2]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == (
            client_port
        ):
            inodes.add(f"socket:[{fields[9]}]")
    for pid in _children(server.pid):
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                if os.readlink(fd) in inodes:
                    return pid
            except OSError:
                continue
    raise AssertionError(f"no worker of {server.pid} holds the connection from {client_port}")


def _get(connection: http.client.HTTPConnection, token: str) -> int:
    connection.request("GET", f"{API}/whoami", headers=bearer(token))
    response = connection.getresponse()
    response.read()
    return response.status


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def two_workers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    with started(tmp_path_factory, request.param, workers=2) as server:
        yield server


def test_a_revoked_token_is_refused_by_every_worker_from_the_next_request(
    two_workers: RunningServer,
) -> None:
    """Kept-alive connections to both workers, each having served the token once; after the
    revocation, the next request on each is refused (nothing is cached per worker or
    per connection)."""
    name = f"ci-{uuid.uuid4().hex[:8]}"
    token = make_token(two_workers, "write", name)
    host, port = two_workers.url.removeprefix("http://").split(":")
    by_worker: dict[int, http.client.HTTPConnection] = {}
    opened = []
    try:
        for _ in range(60):
            connection = http.client.HTTPConnection(host, int(port), timeout=30)
            opened.append(connection)
            assert _get(connection, token) == 200
            by_worker.setdefault(_worker_of(connection, two_workers), connection)
            if len(by_worker) == 2:
                break
        assert len(by_worker) == 2, "60 connections all reached the same worker"
        revoke_token(two_workers, name)
        for connection in by_worker.values():
            assert _get(connection, token) == 401
    finally:
        for connection in opened:
            connection.close()
    for _ in range(10):  # fresh connections too, wherever they land
        assert call(two_workers, "GET", "/whoami", token).status_code == 401


# ---------------------------------------------------------------- protected stages


@pytest.fixture(scope="module")
def protected(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    env = {"MODELPLANE_PROTECTED_STAGES": "production"}
    with started(tmp_path_factory, extra_env=env) as server:
        yield server


def _version(server: RunningServer, model: str) -> str:
    created = call(server, "POST", "/model_versions", server.admin_token, json={"model": model})
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def _move(server: RunningServer, token: str, version: str, stage: str, **extra: Any) -> int:
    body = {"stage": stage, **extra}
    return call(server, "PUT", f"/model_versions/{version}", token, json=body).status_code


def test_only_admin_moves_versions_into_or_out_of_a_protected_stage(
    protected: RunningServer,
) -> None:
    admin, write = protected.admin_token, make_token(protected, "write")
    assert call(protected, "POST", "/models", admin, json={"name": "guarded"}).status_code == 201
    first, second = _version(protected, "guarded"), _version(protected, "guarded")

    assert _move(protected, write, first, "staging") == 200  # unprotected: write may
    before = log_length(protected)
    refused = call(
        protected, "PUT", f"/model_versions/{first}", write, json={"stage": "production"}
    )
    error = assert_error(refused, 403, "PermissionDeniedError")
    assert "production" in error["message"] and "admin" in error["message"]
    assert _move(protected, write, first, "Production") == 403  # spelt another way
    assert log_length(protected) == before

    assert _move(protected, admin, first, "production") == 200
    after_admin = log_length(protected)
    assert _move(protected, write, first, "staging") == 403  # out of production
    assert _move(protected, write, first, "archived") == 403
    assert _move(protected, write, second, "production", force=True) == 403  # displacing it
    deleted = call(protected, "DELETE", f"/model_versions/{first}", write)
    assert_error(deleted, 403, "PermissionDeniedError")
    assert log_length(protected) == after_admin
    held = call(protected, "GET", f"/model_versions/{first}", write).json()
    assert held["stage"] == "production"

    assert _move(protected, write, second, "staging") == 200
    assert _move(protected, admin, second, "production", force=True) == 200
    assert call(protected, "GET", f"/model_versions/{first}", write).json()["stage"] == "archived"
