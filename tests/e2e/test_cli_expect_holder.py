"""``modelplane model version update ... --stage S --expect-holder X`` as a subprocess: a stale
holder exits 1 with one error line naming the actual holder, and appends nothing."""

from __future__ import annotations

import pytest

from modelplane.client import Client
from modelplane.store_handle import close_all
from tests.e2e.test_cli import SQLITE_ONLY, fails, ok, ok_json


def _log_size(model: str) -> int:
    close_all()  # read what the subprocesses committed
    return len(Client().list_events(model=model, limit=10_000))


@pytest.fixture
def iris(store: str) -> str:
    client = Client()
    client.create_model("iris")
    for name in (None, "rc", None):
        client.create_model_version("iris", name=name)
    client.update_model_version("iris", "1", stage="production")
    close_all()
    return "iris"


def test_a_stale_expected_holder_is_one_error_line(iris: str) -> None:
    before = _log_size(iris)
    update = ("model", "version", "update", iris, "rc", "--stage", "production", "--force")
    stderr = fails(*update, "--expect-holder", "3", contains=("held by version '1'",))
    assert "not held by '3'" in stderr
    fails(*update, "--expect-holder", "none", contains=("held by version '1'", "not empty"))
    assert _log_size(iris) == before
    shown = ok_json(*update, "--expect-holder", "1")
    assert shown["stage"] == "production" and shown["name"] == "rc"
    assert Client().get_model_version(iris, "1").stage.value == "archived"


@SQLITE_ONLY
def test_expect_holder_needs_a_stage(iris: str) -> None:
    before = _log_size(iris)
    fails(
        "model", "version", "update", iris, "rc", "--expect-holder", "1", "--description", "x",
        contains=("--expect-holder", "--stage"),
    )  # fmt: skip
    fails(
        "model", "version", "update", iris, "rc", "--stage", "archived", "--expect-holder", "1",
        contains=("expected_holder applies to staging and production",),
    )  # fmt: skip
    assert _log_size(iris) == before
    ok("model", "version", "update", iris, "rc", "--stage", "staging", "--expect-holder", "none")
