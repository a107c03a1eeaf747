"""The wire rules MLflow's client depends on, checked with plain HTTP: 200 for every success,
GET fields as query strings and JSON bodies on every other method (DELETE too), unknown fields
ignored, and every failure, unknown routes and auth included, in MLflow's error shape."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.http.conftest import assert_no_internals, log_length, make_token
from tests.servers import RunningServer

from .conftest import PREFIX


def send(
    server: RunningServer, method: str, path: str, token: str | None, **kwargs: Any
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    headers.update(kwargs.pop("headers", {}))
    return httpx.request(
        method, f"{server.url}{PREFIX}/{path}", headers=headers, timeout=30, **kwargs
    )


def mlflow_error(response: httpx.Response, status: int, code: str) -> str:
    """``response`` is MLflow's error shape with this status and code; its message."""
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error_code", "message"}, body
    assert body["error_code"] == code, body
    assert isinstance(body["message"], str) and body["message"]
    assert_no_internals(response.text)
    return str(body["message"])


def test_every_success_is_200_and_delete_takes_a_json_body(
    mlflow_server: RunningServer, token: str, unique: str
) -> None:
    name = unique + "wire"
    steps = [
        ("POST", "registered-models/create", {"name": name}),
        ("POST", "model-versions/create", {"name": name, "source": "s3://b/1"}),
        ("POST", "registered-models/set-tag", {"name": name, "key": "k", "value": "v"}),
        ("POST", "registered-models/alias", {"name": name, "alias": "a", "version": "1"}),
        ("POST", "model-versions/set-tag", {"name": name, "version": "1", "key": "k", "value": ""}),
        ("PATCH", "model-versions/update", {"name": name, "version": "1", "description": "d"}),
        ("PATCH", "registered-models/update", {"name": name, "description": "d"}),
        ("DELETE", "model-versions/delete-tag", {"name": name, "version": "1", "key": "k"}),
        ("DELETE", "registered-models/delete-tag", {"name": name, "key": "k"}),
        ("DELETE", "registered-models/alias", {"name": name, "alias": "a"}),
        ("DELETE", "model-versions/delete", {"name": name, "version": "1"}),
        ("DELETE", "registered-models/delete", {"name": name}),
    ]
    for method, path, body in steps:
        response = send(mlflow_server, method, path, token, json=body)
        assert response.status_code == 200, (method, path, response.text)
        if method == "DELETE" or path.endswith(("set-tag", "alias")):
            assert response.json() == {}, (path, response.text)
    gone = send(mlflow_server, "GET", "registered-models/get", token, params={"name": name})
    mlflow_error(gone, 404, "RESOURCE_DOES_NOT_EXIST")


def test_unknown_request_fields_are_ignored_and_get_takes_strings(
    mlflow_server: RunningServer, token: str, unique: str
) -> None:
    name = unique + "fields"
    created = send(
        mlflow_server,
        "POST",
        "registered-models/create",
        token,
        json={"name": name, "deployment_job_id": "j-1", "not_a_field": [1, 2]},
    )
    assert created.status_code == 200, created.text
    assert created.json()["registered_model"]["name"] == name
    version = send(
        mlflow_server,
        "POST",
        "model-versions/create",
        token,
        json={"name": name, "source": "s3://b/1", "model_id": "m-123", "tags": [{"key": "k"}]},
    )
    assert version.status_code == 200, version.text
    shown = version.json()["model_version"]
    assert (shown["version"], shown["status"], shown["tags"]) == (
        "1",
        "READY",
        [{"key": "k", "value": ""}],
    )
    params = [
        ("filter", f"name = '{name}'"),
        ("max_results", "1"),
        ("order_by", "version_number DESC"),
        ("order_by", "name"),
        ("unknown", "x"),
    ]
    found = send(mlflow_server, "GET", "model-versions/search", token, params=params)
    assert found.status_code == 200, found.text
    assert [v["version"] for v in found.json()["model_versions"]] == ["1"]
    assert "next_page_token" not in found.json()


def test_unknown_routes_and_methods_answer_endpoint_not_found(
    mlflow_server: RunningServer, token: str
) -> None:
    for method, path in (("GET", "runs/get"), ("POST", "experiments/create"), ("GET", "")):
        message = mlflow_error(send(mlflow_server, method, path, token), 404, "ENDPOINT_NOT_FOUND")
        assert "No MLflow endpoint" in message
    wrong = send(mlflow_server, "PUT", "registered-models/alias", token, json={})
    mlflow_error(wrong, 405, "ENDPOINT_NOT_FOUND")
    assert wrong.headers["allow"] == "DELETE, GET, POST"


@pytest.mark.parametrize("authorization", [None, "Bearer nope", "Basic dXNlcjpwYXNz"])
def test_bad_credentials_are_unauthenticated(
    mlflow_server: RunningServer, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    for method, path, extra in (
        ("GET", "registered-models/get", {"params": {"name": "x"}}),
        ("POST", "registered-models/create", {"json": {"name": "x"}}),
        ("DELETE", "registered-models/delete", {"json": {"name": "x"}}),
        ("GET", "registered-models/search", {}),
    ):
        response = send(mlflow_server, method, path, None, headers=headers, **extra)
        mlflow_error(response, 401, "UNAUTHENTICATED")
        assert response.headers["www-authenticate"] == "Bearer"


def test_a_read_token_reads_and_is_refused_every_write_first(
    mlflow_server: RunningServer, token: str, unique: str
) -> None:
    name = unique + "readonly"
    assert send(mlflow_server, "POST", "registered-models/create", token, json={"name": name})
    reader = make_token(mlflow_server, "read")
    before = log_length(mlflow_server)
    for method, path, body in (
        ("POST", "registered-models/create", {"name": unique + "new"}),
        ("POST", "registered-models/set-tag", {"name": name, "key": "k", "value": "v"}),
        # a model that does not exist: still 403, the role is checked before any lookup
        ("POST", "registered-models/set-tag", {"name": unique + "gone", "key": "k", "value": ""}),
        ("DELETE", "registered-models/delete", {"name": name}),
        ("POST", "model-versions/transition-stage", {"name": name, "version": "1", "stage": "x"}),
    ):
        response = send(mlflow_server, method, path, reader, json=body)
        assert "role" in mlflow_error(response, 403, "PERMISSION_DENIED")
    assert log_length(mlflow_server) == before
    got = send(mlflow_server, "GET", "registered-models/get", reader, params={"name": name})
    assert got.status_code == 200, got.text
    latest = send(
        mlflow_server, "POST", "registered-models/get-latest-versions", reader, json={"name": name}
    )
    assert (latest.status_code, latest.json()) == (200, {"model_versions": []})


@pytest.mark.parametrize(
    ("method", "path", "request_kwargs", "said"),
    [
        ("POST", "registered-models/create", {"json": {}}, "required parameter 'name'"),
        ("GET", "registered-models/get", {}, "required parameter 'name'"),
        ("POST", "registered-models/create", {"content": b"{not json"}, "JSON"),
        ("POST", "registered-models/create", {"json": {"name": "x", "tags": "t"}}, "'tags'"),
        ("POST", "registered-models/create", {"json": {"name": "a\x00b"}}, "NUL"),
        ("GET", "registered-models/get", {"params": {"name": "a\x00b"}}, "NUL"),
        ("POST", "model-versions/create", {"json": {"name": "x", "source": ""}}, "'source'"),
        ("GET", "model-versions/get", {"params": {"name": "x", "version": "1.5"}}, "integer"),
        ("GET", "registered-models/search", {"params": {"max_results": "0"}}, "positive"),
        ("GET", "registered-models/search", {"params": {"max_results": "1001"}}, "at most 1000"),
        ("GET", "model-versions/search", {"params": {"max_results": "x"}}, "max_results"),
        ("GET", "model-versions/search", {"params": {"filter": "name ~ 'x'"}}, "Invalid filter"),
        ("GET", "model-versions/search", {"params": {"page_token": "!!"}}, "page_token"),
        ("GET", "model-versions/search", {"params": {"order_by": "run_id"}}, "order by key"),
        (
            "POST",
            "model-versions/transition-stage",
            {
                "json": {
                    "name": "x",
                    "version": "1",
                    "stage": "Staging",
                    "archive_existing_versions": "maybe",
                }
            },
            "archive_existing_versions",
        ),
    ],
)
def test_malformed_requests_are_invalid_parameter_values(
    mlflow_server: RunningServer,
    token: str,
    method: str,
    path: str,
    request_kwargs: dict[str, Any],
    said: str,
) -> None:
    if "content" in request_kwargs:
        request_kwargs = {**request_kwargs, "headers": {"Content-Type": "application/json"}}
    response = send(mlflow_server, method, path, token, **request_kwargs)
    assert said in mlflow_error(response, 400, "INVALID_PARAMETER_VALUE")


def test_a_lone_surrogate_in_a_json_body_is_refused(
    mlflow_server: RunningServer, token: str
) -> None:
    body = b'{"name": "a\\ud800b"}'
    response = send(
        mlflow_server,
        "POST",
        "registered-models/create",
        token,
        content=body,
        headers={"Content-Type": "application/json"},
    )
    mlflow_error(response, 400, "INVALID_PARAMETER_VALUE")


def test_a_creation_with_a_bad_tag_leaves_nothing(
    mlflow_server: RunningServer, token: str, unique: str
) -> None:
    name = unique + "badtag"
    before = log_length(mlflow_server)
    bad = [{"key": "ok", "value": "v"}, {"key": "../escape", "value": "v"}]
    refused = send(
        mlflow_server, "POST", "registered-models/create", token, json={"name": name, "tags": bad}
    )
    assert "escape" in mlflow_error(refused, 400, "INVALID_PARAMETER_VALUE")
    assert log_length(mlflow_server) == before
    send(mlflow_server, "POST", "registered-models/create", token, json={"name": name})
    before = log_length(mlflow_server)
    refused = send(
        mlflow_server,
        "POST",
        "model-versions/create",
        token,
        json={"name": name, "source": "s3://b/1", "tags": [{"key": "", "value": "v"}]},
    )
    mlflow_error(refused, 400, "INVALID_PARAMETER_VALUE")
    assert log_length(mlflow_server) == before


def test_alias_and_tag_writes_sent_again_append_nothing(
    mlflow_server: RunningServer, token: str, unique: str
) -> None:
    """MLflow's client sends these again after a 5xx: the repeat must be a no-op success."""
    name = unique + "upserts"
    send(mlflow_server, "POST", "registered-models/create", token, json={"name": name})
    send(mlflow_server, "POST", "model-versions/create", token, json={"name": name, "source": "s"})
    writes = [
        ("registered-models/set-tag", {"name": name, "key": "k", "value": "v"}),
        ("model-versions/set-tag", {"name": name, "version": "1", "key": "k", "value": "v"}),
        ("registered-models/alias", {"name": name, "alias": "champion", "version": "1"}),
    ]
    for path, body in writes:
        assert send(mlflow_server, "POST", path, token, json=body).status_code == 200
    before = log_length(mlflow_server)
    for path, body in writes:
        again = send(mlflow_server, "POST", path, token, json=body)
        assert (again.status_code, again.json()) == (200, {})
    assert log_length(mlflow_server) == before
