"""``PUT /model_versions/{id}`` with ``expected_holder``, on a real server over each store.

A stale holder is 412 (``PreconditionFailedError``, naming the actual holder), an occupied
stage without force stays 409, a malformed field is 422; none of them appends an event.
"""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from tests.http.conftest import TIMEOUT, assert_error, call, log_length, make_token
from tests.servers import RunningServer


@pytest.fixture(scope="module")
def writer(store_server: RunningServer) -> str:
    return make_token(store_server, "write")


def _model(server: RunningServer, token: str) -> tuple[str, dict[str, str]]:
    """A model with versions 1 (in production), rc and 3; returns its name and name -> id."""
    name = f"cp-{uuid.uuid4().hex[:8]}"
    assert call(server, "POST", "/models", token, json={"name": name}).status_code == 201
    ids = {}
    for version in (None, "rc", None):
        created = call(
            server, "POST", "/model_versions", token, json={"model": name, "name": version}
        )
        assert created.status_code == 201, created.text
        ids[created.json()["name"]] = created.json()["id"]
    promoted = put(server, token, ids["1"], stage="production", expected_holder="none")
    assert promoted.status_code == 200, promoted.text
    return name, ids


def put(server: RunningServer, token: str, version_id: str, **body: Any) -> Any:
    return call(server, "PUT", f"/model_versions/{version_id}", token, json=body)


def production(server: RunningServer, token: str, model: str) -> str:
    found = call(server, "GET", f"/models/{model}/model_versions/production", token)
    assert found.status_code == 200, found.text
    return str(found.json()["name"])


@pytest.mark.parametrize("expected", ["none", "rc", "2", "3"])
def test_a_stale_holder_is_412_naming_the_holder(
    store_server: RunningServer, writer: str, expected: str
) -> None:
    model, ids = _model(store_server, writer)
    before = log_length(store_server)
    answer = put(
        store_server, writer, ids["3"], stage="production", force=True, expected_holder=expected
    )
    error = assert_error(answer, 412, "PreconditionFailedError")
    assert (error["stage"], error["holder"], error["expected"]) == ("production", "1", expected)
    assert "held by version '1'" in error["message"] and ids["1"] in error["message"]
    assert log_length(store_server) == before
    assert production(store_server, writer, model) == "1"


def test_an_empty_stage_is_412_with_a_null_holder(store_server: RunningServer, writer: str) -> None:
    _, ids = _model(store_server, writer)
    before = log_length(store_server)
    answer = put(store_server, writer, ids["rc"], stage="staging", expected_holder="1")
    error = assert_error(answer, 412, "PreconditionFailedError")
    assert error["holder"] is None and "is empty" in error["message"]
    assert log_length(store_server) == before


def test_occupied_without_force_stays_409(store_server: RunningServer, writer: str) -> None:
    _, ids = _model(store_server, writer)
    before = log_length(store_server)
    plain = put(store_server, writer, ids["rc"], stage="production")
    assert assert_error(plain, 409, "StageOccupiedError")["holder"] == "1"
    matching = put(store_server, writer, ids["rc"], stage="production", expected_holder=1)
    assert assert_error(matching, 409, "StageOccupiedError")["holder"] == "1"
    assert log_length(store_server) == before


@pytest.mark.parametrize("expected", ["1", 1, "ID"])
def test_a_matching_holder_promotes(
    store_server: RunningServer, writer: str, expected: Any
) -> None:
    model, ids = _model(store_server, writer)
    before = log_length(store_server)
    holder = ids["1"] if expected == "ID" else expected
    answer = put(
        store_server, writer, ids["rc"], stage="production", force=True, expected_holder=holder
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["stage"] == "production"
    assert production(store_server, writer, model) == "rc"
    # the holder's move to archived and the promotion, each with its StageSet
    assert log_length(store_server) == before + 4


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"stage": "production", "expected_holder": True}, 422),
        ({"stage": "production", "expected_holder": ["1"]}, 422),
        ({"stage": "production", "expected_holder": {"name": "1"}}, 422),
        ({"stage": "production", "expected_holder": 1.5}, 422),
        ({"stage": "production", "expected_holder": ""}, 400),
        ({"stage": "production", "expected_holder": -1}, 400),
        ({"stage": "production", "expected_holder": "x" * 300}, 400),
        ({"expected_holder": "1"}, 400),
        ({"stage": "archived", "expected_holder": "1"}, 400),
    ],
)
def test_a_malformed_expected_holder_is_refused(
    store_server: RunningServer, writer: str, body: dict[str, Any], status: int
) -> None:
    _, ids = _model(store_server, writer)
    before = log_length(store_server)
    kind = "RequestValidationError" if status == 422 else "ValidationError"
    error = assert_error(put(store_server, writer, ids["rc"], **body), status, kind)
    if status == 422:
        assert "expected_holder" in error["message"]
    assert log_length(store_server) == before


def test_412_is_documented(store_server: RunningServer) -> None:
    document = httpx.get(store_server.url + "/openapi.json", timeout=TIMEOUT).json()
    put_doc = document["paths"]["/api/v1/model_versions/{version_id}"]["put"]
    assert "412" in put_doc["responses"]
    body_ref = put_doc["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body_schema = document["components"]["schemas"][body_ref.rsplit("/", 1)[-1]]
    assert "expected_holder" in body_schema["properties"]
