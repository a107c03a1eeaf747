"""An unmodified ``MlflowClient`` against a modelplane server: the flows of MLflow's own
``tests/tracking/test_model_registry.py`` (written anew here), on SQLite and PostgreSQL.

Where modelplane's rules differ from MLflow's, the test says so: one version holds Staging and
one Production (a transition into a held stage is refused unless
``archive_existing_versions``). A model's ``last_updated_timestamp`` is its last activity, as in
MLflow: its own changes, and a version created, transitioned or deleted, or an alias moved.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import mlflow
import pytest
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion, RegisteredModel
from mlflow.exceptions import MlflowException

from tests.servers import RunningServer

from .conftest import PREFIX

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")  # MLflow's stage APIs


def now_ms() -> int:
    return int(time.time() * 1000)


@contextmanager
def refused(code: str, match: str | None = None) -> Iterator[None]:
    with pytest.raises(MlflowException, match=match) as caught:
        yield
    assert caught.value.error_code == code, caught.value


def every_page(search: Callable[[str | None], Any]) -> list[Any]:
    """Every row of a search, page by page, checking no page is empty but the last."""
    rows: list[Any] = []
    page = search(None)
    rows.extend(page)
    while page.token:
        assert len(page) > 0
        page = search(page.token)
        rows.extend(page)
    return rows


# ------------------------------------------------------------------ registered models


def test_create_get_and_search_a_registered_model(client: MlflowClient, unique: str) -> None:
    name = unique + "create"
    started = now_ms()
    created = client.create_registered_model(
        name, tags={"key": "value", "another key": "x", "numeric value": 12345, "empty": ""}
    )
    ended = now_ms()
    expected_tags = {"key": "value", "another key": "x", "numeric value": "12345", "empty": ""}
    assert isinstance(created, RegisteredModel)
    assert (created.name, created.tags) == (name, expected_tags)
    got = client.get_registered_model(name)
    assert (got.name, got.tags, got.aliases, got.latest_versions) == (name, expected_tags, {}, [])
    assert str(got.description) == ""
    assert started <= got.creation_timestamp <= ended
    assert started <= (got.last_updated_timestamp or 0) <= ended
    for found in (
        client.search_registered_models(),
        client.search_registered_models(filter_string=""),
        client.search_registered_models(f"name = '{name}'"),
    ):
        assert [m.name for m in found if m.name == name] == [name]
    described = client.create_registered_model(unique + "described", description="a model")
    assert client.get_registered_model(described.name).description == "a model"


@pytest.fixture(scope="module")
def many_models(mlflow_server: RunningServer, token: str) -> list[str]:
    """29 models for the paging tests, made once per server."""
    client = MlflowClient(tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_TOKEN", token)
        names = [f"PagedRMsearch{i:03}" for i in range(29)]
        for name in names:
            client.create_registered_model(name)
    return names


@pytest.mark.parametrize("max_results", [1, 8, 100])
@pytest.mark.parametrize(
    ("filter_string", "wanted"),
    [
        (None, lambda n: True),
        ("", lambda n: True),
        ("name LIKE '%7'", lambda n: n.endswith("7")),
        ("name ILIKE '%rm%00%'", lambda n: "00" in n),
        ("name LIKE '%rm%00%'", lambda n: False),
        ("name = 'badname'", lambda n: False),
        ("name = 'PagedRMsearch023'", lambda n: n == "PagedRMsearch023"),
        ("name IN ('PagedRMsearch001', 'PagedRMsearch002')", lambda n: n[-2:] in {"01", "02"}),
        ("name != 'PagedRMsearch004'", lambda n: n != "PagedRMsearch004"),
    ],
)
def test_search_registered_models_page_by_page(
    client: MlflowClient,
    many_models: list[str],
    max_results: int,
    filter_string: str | None,
    wanted: Callable[[str], bool],
) -> None:
    found = every_page(
        lambda token: client.search_registered_models(
            filter_string=filter_string, max_results=max_results, page_token=token
        )
    )
    names = [m.name for m in found]
    assert len(names) == len(set(names))
    assert [n for n in names if n in many_models] == [n for n in many_models if wanted(n)]
    assert names == sorted(names)


def test_search_registered_models_order_by(client: MlflowClient, many_models: list[str]) -> None:
    newest_first = every_page(
        lambda token: client.search_registered_models(
            "name LIKE 'PagedRMsearch%'",
            max_results=5,
            order_by=["creation_timestamp DESC"],
            page_token=token,
        )
    )
    stamps = [(m.creation_timestamp, m.name) for m in newest_first]
    assert [m.name for m in newest_first] == [
        name for _, name in sorted(stamps, key=lambda s: (-s[0], s[1]))
    ]
    assert sorted(m.name for m in newest_first) == many_models
    by_name_desc = client.search_registered_models(
        "name LIKE 'PagedRMsearch%'", order_by=["name DESC"]
    )
    assert [m.name for m in by_name_desc] == many_models[::-1]
    with refused("INVALID_PARAMETER_VALUE", "Invalid order by key"):
        client.search_registered_models(order_by=["version_number"])


def test_a_page_token_resumes_after_the_last_row_even_when_rows_come_and_go(
    client: MlflowClient, unique: str
) -> None:
    names = [f"{unique}{i}" for i in range(6)]
    for name in names:
        client.create_registered_model(name)
    query = f"name LIKE '{unique}%'"
    first = client.search_registered_models(query, max_results=3)
    assert [m.name for m in first] == names[:3]
    client.delete_registered_model(names[0])  # an offset would now skip names[3]
    client.create_registered_model(unique + "00")  # sorts before the page's end
    rest = client.search_registered_models(query, max_results=3, page_token=first.token)
    assert [m.name for m in rest] == names[3:]
    assert rest.token == ""
    with refused("INVALID_PARAMETER_VALUE", "another search"):
        client.search_registered_models("name LIKE 'x%'", max_results=3, page_token=first.token)
    with refused("INVALID_PARAMETER_VALUE", "Invalid page_token"):
        client.search_registered_models(query, page_token="garbage")


def test_rename_and_update_a_registered_model(client: MlflowClient, unique: str) -> None:
    name, new_name, other = unique + "old", unique + "new", unique + "other"
    created_at = client.create_registered_model(name).creation_timestamp
    client.set_registered_model_tag(name, "team", "vision")
    started = now_ms()
    renamed = client.rename_registered_model(name, new_name)
    ended = now_ms()
    assert renamed is None  # MLflow's client returns None here
    with refused("RESOURCE_DOES_NOT_EXIST", f"Registered Model with name={name} not found"):
        client.get_registered_model(name)
    got = client.get_registered_model(new_name)
    assert (got.name, got.tags) == (new_name, {"team": "vision"})
    assert got.creation_timestamp == created_at
    assert started <= (got.last_updated_timestamp or 0) <= ended

    started = now_ms()
    updated = client.update_registered_model(new_name, "This is a test")
    ended = now_ms()
    assert (updated.name, updated.description) == (new_name, "This is a test")
    got = client.get_registered_model(new_name)
    assert got.description == "This is a test"
    assert started <= (got.last_updated_timestamp or 0) <= ended

    client.create_registered_model(other)
    with refused("RESOURCE_ALREADY_EXISTS", r"Registered Model .+ already exists"):
        client.rename_registered_model(new_name, other)
    with refused("RESOURCE_DOES_NOT_EXIST", r"Registered Model .+ not found"):
        client.rename_registered_model(unique + "missing", unique + "x")


def test_delete_and_create_again(client: MlflowClient, unique: str) -> None:
    name = unique + "doomed"
    client.create_registered_model(name)
    client.create_model_version(name, "s3://b/one", "run-1")
    client.create_model_version(name, "s3://b/two", "run-1")
    with refused("RESOURCE_ALREADY_EXISTS", r"Registered Model .+ already exists"):
        client.create_registered_model(name)
    client.delete_registered_model(name)
    with refused("RESOURCE_DOES_NOT_EXIST", r"Registered Model .+ not found"):
        client.get_registered_model(name)
    with refused("RESOURCE_DOES_NOT_EXIST", r"Registered Model .+ not found"):
        client.rename_registered_model(name, name + "x")
    with refused("RESOURCE_DOES_NOT_EXIST"):
        client.delete_registered_model(name)
    assert [m.name for m in client.search_registered_models() if m.name == name] == []
    assert client.search_model_versions(f"name = '{name}'") == []

    started = now_ms()
    client.create_registered_model(name)
    again = client.get_registered_model(name)
    assert again.creation_timestamp >= started and again.latest_versions == []
    assert client.create_model_version(name, "s3://b/new").version == "1"  # a new life


def test_registered_model_tags(client: MlflowClient, unique: str) -> None:
    name = unique + "tagged"
    client.create_registered_model(name)
    assert client.get_registered_model(name).tags == {}
    for key, value in {"key": "value", "numeric value": 12345, "tag_key": ""}.items():
        client.set_registered_model_tag(name, key, value)
    client.set_registered_model_tag(name, "key", "value")  # again: an upsert
    assert client.get_registered_model(name).tags == {
        "key": "value",
        "numeric value": "12345",
        "tag_key": "",
    }
    client.set_registered_model_tag(name, "key", "changed")
    client.delete_registered_model_tag(name, "numeric value")
    client.delete_registered_model_tag(name, "never set")  # silent, as in MLflow
    assert client.get_registered_model(name).tags == {"key": "changed", "tag_key": ""}
    tagged = client.search_registered_models(f"name = '{name}' AND tags.key = 'changed'")
    assert [m.name for m in tagged] == [name]
    assert client.search_registered_models(f"name = '{name}' AND tag.`tag_key` != ''") == []
    with refused("RESOURCE_DOES_NOT_EXIST"):
        client.set_registered_model_tag(unique + "missing", "k", "v")
    with refused("INVALID_PARAMETER_VALUE"):
        client.set_registered_model_tag(name, "../escape", "v")


def test_the_prompt_clause_the_client_appends_keeps_plain_models(
    mlflow_server: RunningServer, client: MlflowClient, token: str, unique: str
) -> None:
    plain, prompt = unique + "plain", unique + "prompt"
    client.create_registered_model(plain)
    client.create_registered_model(prompt)
    # the client refuses to tag a model as a prompt itself (prompts have an API of their own)
    headers = {"Authorization": f"Bearer {token}"}
    tagged = httpx.post(
        f"{mlflow_server.url}{PREFIX}/registered-models/set-tag",
        json={"name": prompt, "key": "mlflow.prompt.is_prompt", "value": "true"},
        headers=headers,
    )
    assert tagged.status_code == 200, tagged.text
    found = client.search_registered_models(f"name LIKE '{unique}%'")
    assert [m.name for m in found] == [plain]
    # the same search sent without the client's clause finds both
    raw = httpx.get(
        f"{mlflow_server.url}{PREFIX}/registered-models/search",
        params={"filter": f"name LIKE '{unique}%'"},
        headers=headers,
    )
    assert [m["name"] for m in raw.json()["registered_models"]] == [plain, prompt]


# ------------------------------------------------------------------------ versions


def test_create_and_query_model_versions(client: MlflowClient, unique: str) -> None:
    name = unique + "versions"
    client.create_registered_model(name)
    tags = {"key": "value", "numeric value": 12345}
    started = now_ms()
    first = client.create_model_version(name, "runs:/run_id/model", "run_id_1", tags)
    ended = now_ms()
    assert isinstance(first, ModelVersion)
    assert (first.name, first.version, first.status, first.current_stage) == (
        name,
        "1",
        "READY",
        "None",
    )
    assert first.tags == {"key": "value", "numeric value": "12345"}
    got = client.get_model_version(name, "1")
    assert (got.source, got.run_id, got.tags) == ("runs:/run_id/model", "run_id_1", first.tags)
    assert str(got.description) == ""
    assert started <= got.creation_timestamp <= ended
    assert [m.latest_versions for m in client.search_registered_models(f"name = '{name}'")] == [
        [got]
    ]
    second = client.create_model_version(
        name, "runs:/run_id/another", "run_id_1", description="second", run_link="http://r/1"
    )
    got2 = client.get_model_version(name, "2")
    assert (second.version, got2.description, got2.run_link) == ("2", "second", "http://r/1")
    third = client.create_model_version(name, "runs:/run_id/another", "run_id_2")
    assert third.version == "3"

    def search(text: str) -> list[str]:
        return [mv.version for mv in client.search_model_versions(text)]

    assert sorted(search(f"name = '{name}'")) == ["1", "2", "3"]
    by_source = f"source_path = 'runs:/run_id/model' AND name = '{name}'"
    assert client.search_model_versions(by_source) == [got]
    assert search(f"run_id = 'run_id_1' AND name = '{name}'") == ["2", "1"]
    assert search(f"run_id IN ('run_id_2', 'nope') AND name = '{name}'") == ["3"]
    assert search(f"name = '{name}' AND version_number >= 2") == ["3", "2"]
    assert search(f"name = '{name}' AND version_number = 2") == ["2"]
    assert search(f"name = '{name}' AND tags.key = 'value'") == ["1"]
    assert search(f"name LIKE '{unique}vers%' AND source_path LIKE '%another'") == ["3", "2"]
    assert client.get_model_version_download_uri(name, "1") == "runs:/run_id/model"

    with refused("INVALID_PARAMETER_VALUE", "Parameter 'version' must be an integer, got 'x y'"):
        client.get_model_version(name, "x y")
    with refused("RESOURCE_DOES_NOT_EXIST", rf"Model Version \(name={name}, version=9\) not found"):
        client.get_model_version(name, "9")
    with refused("RESOURCE_DOES_NOT_EXIST"):
        client.create_model_version(unique + "missing", "s3://b/x")
    with refused("INVALID_PARAMETER_VALUE", "invalid attribute key 'current_stage'"):
        client.search_model_versions("current_stage = 'Production'")
    with refused("INVALID_PARAMETER_VALUE", "OR is not supported"):
        client.search_model_versions(f"name = '{name}' OR name = 'x'")


@pytest.fixture(scope="module")
def many_versions(mlflow_server: RunningServer, token: str) -> list[tuple[str, str]]:
    """39 versions of 29 models (the first ten have two), made once per server."""
    client = MlflowClient(tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url)
    made = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_TOKEN", token)
        names = [f"PagedMVsearch{i:03}" for i in range(29)]
        for name in names:
            client.create_registered_model(name)
        for name in names + names[:10]:
            time.sleep(0.002)  # distinct milliseconds, so the default order is known
            made.append((name, client.create_model_version(name, "s3://b/m", "run").version))
    return made


@pytest.mark.parametrize("max_results", [1, 8, 100, None])
@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        (None, lambda made: made[::-1]),  # last_updated DESC: the newest first
        (["name DESC"], lambda made: sorted(made, reverse=True)),
        (["version_number DESC"], lambda made: sorted(made, key=lambda m: (-int(m[1]), m[0]))),
        (["name", "version_number"], lambda made: sorted(made, key=lambda m: (m[0], int(m[1])))),
    ],
)
def test_search_model_versions_order_and_pages(
    client: MlflowClient,
    many_versions: list[tuple[str, str]],
    max_results: int | None,
    order_by: list[str] | None,
    expected: Callable[[list[tuple[str, str]]], list[tuple[str, str]]],
) -> None:
    arguments: dict[str, Any] = {"order_by": order_by}
    if max_results is not None:
        arguments["max_results"] = max_results
    found = every_page(
        lambda token: client.search_model_versions(
            "name LIKE 'PagedMVsearch%'", page_token=token, **arguments
        )
    )
    assert [(mv.name, mv.version) for mv in found] == expected(many_versions)


def test_update_delete_and_numbering_of_versions(client: MlflowClient, unique: str) -> None:
    name = unique + "numbering"
    client.create_registered_model(name)
    for n in range(3):
        client.create_model_version(name, f"s3://b/{n}", "run")
    started = now_ms()
    updated = client.update_model_version(name, "1", description="This is a test model")
    ended = now_ms()
    assert updated.description == "This is a test model"
    got = client.get_model_version(name, "1")
    assert got.description == "This is a test model"
    assert started <= (got.last_updated_timestamp or 0) <= ended
    assert got.creation_timestamp < started

    client.delete_model_version(name, "1")
    assert sorted(mv.version for mv in client.search_model_versions(f"name = '{name}'")) == [
        "2",
        "3",
    ]
    for call in (
        lambda: client.delete_model_version(name, "1"),
        lambda: client.update_model_version(name, "1", description="again"),
        lambda: client.transition_model_version_stage(name, 1, "Staging"),
        lambda: client.get_model_version(name, "1"),
        lambda: client.set_model_version_tag(name, "1", "k", "v"),
    ):
        with refused("RESOURCE_DOES_NOT_EXIST", r"Model Version .+ not found"):
            call()
    client.delete_model_version(name, "3")
    assert client.create_model_version(name, "s3://b/4").version == "4"  # never reused
    assert sorted(mv.version for mv in client.search_model_versions(f"name = '{name}'")) == [
        "2",
        "4",
    ]
    latest = client.get_registered_model(name).latest_versions
    assert [(mv.version, mv.current_stage) for mv in latest] == [("4", "None")]


def test_model_version_tags(client: MlflowClient, unique: str) -> None:
    name = unique + "vtags"
    client.create_registered_model(name)
    client.create_model_version(name, "s3://b/1", "run")
    assert client.get_model_version(name, "1").tags == {}
    for key, value in {"key": "value", "numeric value": 12345, "tag_key": ""}.items():
        client.set_model_version_tag(name, "1", key, value)
    client.set_model_version_tag(name, "1", "key", "value")  # again: an upsert
    assert client.get_model_version(name, "1").tags == {
        "key": "value",
        "numeric value": "12345",
        "tag_key": "",
    }
    client.delete_model_version_tag(name, "1", "key")
    client.delete_model_version_tag(name, "1", "never set")  # silent, as in MLflow
    assert client.get_model_version(name, "1").tags == {"numeric value": "12345", "tag_key": ""}


# ------------------------------------------------------------------ aliases and stages


def test_aliases_set_move_read_and_delete(client: MlflowClient, unique: str) -> None:
    name = unique + "aliased"
    client.create_registered_model(name)
    for n in range(3):
        client.create_model_version(name, f"s3://b/{n}", "run")
    assert client.get_registered_model(name).aliases == {}
    assert client.get_model_version(name, "1").aliases == []

    client.set_registered_model_alias(name, "champion", "1")
    client.set_registered_model_alias(name, "champion", "1")  # again: nothing changes
    client.set_registered_model_alias(name, "Champion", "3")  # case-sensitive: another alias
    assert client.get_registered_model(name).aliases == {"champion": "1", "Champion": "3"}
    assert client.get_model_version(name, "1").aliases == ["champion"]
    by_alias = client.get_model_version_by_alias(name, "champion")
    assert by_alias == client.get_model_version(name, "1")

    client.set_registered_model_alias(name, "champion", "2")  # moves
    assert client.get_model_version_by_alias(name, "champion").version == "2"
    assert client.get_model_version(name, "1").aliases == []
    assert client.get_model_version(name, "2").aliases == ["champion"]

    client.delete_registered_model_alias(name, "champion")
    client.delete_registered_model_alias(name, "never-set")  # silent, as in MLflow
    assert client.get_registered_model(name).aliases == {"Champion": "3"}
    with refused("INVALID_PARAMETER_VALUE", "Registered model alias champion not found"):
        client.get_model_version_by_alias(name, "champion")

    client.delete_model_version(name, "3")  # drops its aliases
    assert client.get_registered_model(name).aliases == {}
    for bad in ("a b", "latest", "v3"):
        with refused("INVALID_PARAMETER_VALUE"):
            client.set_registered_model_alias(name, bad, "1")
    with refused("RESOURCE_DOES_NOT_EXIST", r"Model Version .+ not found"):
        client.set_registered_model_alias(name, "champion", "99")
    with refused("RESOURCE_DOES_NOT_EXIST", r"Registered Model .+ not found"):
        client.get_model_version_by_alias(unique + "missing", "champion")


def test_a_models_last_update_moves_with_its_versions_and_aliases(
    client: MlflowClient, unique: str
) -> None:
    name = unique + "activity"
    created = client.create_registered_model(name).last_updated_timestamp or 0
    steps = [
        lambda: client.create_model_version(name, "s3://b/m", "run"),
        lambda: client.create_model_version(name, "s3://b/m", "run"),
        lambda: client.transition_model_version_stage(name, "1", "Production"),
        lambda: client.set_registered_model_alias(name, "champion", "2"),
        lambda: client.delete_registered_model_alias(name, "champion"),
        lambda: client.delete_model_version(name, "2"),
    ]
    last = created
    for step in steps:
        time.sleep(0.002)  # the next step's time is a later millisecond
        started = now_ms()
        step()
        ended = now_ms()
        moved = client.get_registered_model(name).last_updated_timestamp or 0
        assert last < moved and started <= moved <= ended
        last = moved
    # newest activity first: this model, then the one registered before it and left alone
    client.create_registered_model(unique + "idle")
    time.sleep(0.002)
    client.create_model_version(name, "s3://b/m", "run")
    found = client.search_registered_models(
        f"name LIKE '{unique}%'", order_by=["last_updated_timestamp DESC"]
    )
    assert [m.name for m in found][:2] == [name, unique + "idle"]


def test_transition_stages_with_one_holder_each(client: MlflowClient, unique: str) -> None:
    name = unique + "staged"
    client.create_registered_model(name)
    for _ in range(4):
        client.create_model_version(name, "s3://b/m", "run")

    started = now_ms()
    moved = client.transition_model_version_stage(name, "1", "staging")  # any case, as MLflow
    ended = now_ms()
    assert moved.current_stage == "Staging"
    got = client.get_model_version(name, "1")
    assert got.current_stage == "Staging"
    assert started <= (got.last_updated_timestamp or 0) <= ended
    client.transition_model_version_stage(name, "2", "Production")
    with refused("RESOURCE_CONFLICT", "archive_existing_versions"):
        client.transition_model_version_stage(name, "3", "Production")
    assert client.get_model_version(name, "3").current_stage == "None"
    moved = client.transition_model_version_stage(
        name, "3", "Production", archive_existing_versions=True
    )
    assert moved.current_stage == "Production"
    assert client.get_model_version(name, "2").current_stage == "Archived"
    client.transition_model_version_stage(name, "3", "Production")  # already there: no error

    def latest(stages: list[str] | None) -> dict[str, str]:
        return {mv.current_stage: mv.version for mv in client.get_latest_versions(name, stages)}

    assert latest(["None"]) == {"None": "4"}
    assert latest(["Staging", "None"]) == {"Staging": "1", "None": "4"}
    everything = {"None": "4", "Staging": "1", "Production": "3", "Archived": "2"}
    assert latest(None) == everything
    assert latest([]) == everything
    latest_of_model = client.get_registered_model(name).latest_versions
    assert {mv.current_stage: mv.version for mv in latest_of_model} == everything

    with refused("INVALID_PARAMETER_VALUE", "Invalid Model Version stage: Bogus"):
        client.transition_model_version_stage(name, "4", "Bogus")
    with refused("INVALID_PARAMETER_VALUE", "not an Active stage"):
        client.transition_model_version_stage(name, "4", "Archived", archive_existing_versions=True)
    with refused("INVALID_PARAMETER_VALUE", "Invalid Model Version stage"):
        client.get_latest_versions(name, ["Bogus"])
    client.transition_model_version_stage(name, "1", "None")
    assert latest(["Staging"]) == {}


def test_latest_versions_of_a_model_with_more_than_a_page_of_them(
    client: MlflowClient, unique: str
) -> None:
    """The newest versions are read first; a stage held only by an old version is still found."""
    name = unique + "deep"
    client.create_registered_model(name)
    for _ in range(103):
        client.create_model_version(name, "s3://b/m")
    client.transition_model_version_stage(name, "1", "Archived")
    client.transition_model_version_stage(name, "2", "Staging")
    latest = client.get_latest_versions(name)
    assert {mv.current_stage: mv.version for mv in latest} == {
        "None": "103",
        "Staging": "2",
        "Archived": "1",
    }
    assert [mv.version for mv in client.get_latest_versions(name, ["Archived"])] == ["1"]


def test_copy_model_version_and_download_uris(client: MlflowClient, unique: str) -> None:
    name, copy = unique + "source", unique + "copy"
    client.create_registered_model(name)
    source = client.create_model_version(
        name, "s3://bucket/model", "run_id_1", description="dummy", tags={"hello": "world"}
    )
    client.set_registered_model_alias(name, "test_alias", "1")
    copied = client.copy_model_version(f"models:/{name}@test_alias", copy)
    assert (copied.name, copied.version) == (copy, "1")
    got = client.get_model_version(copy, "1")
    assert got.source == f"models:/{name}/1"
    assert (got.description, got.run_id, got.tags) == ("dummy", "run_id_1", {"hello": "world"})
    assert client.get_model_version_download_uri(copy, "1") == source.source
    client.create_model_version(copy, f"models:/{name}@test_alias")
    client.create_model_version(copy, f"models:/{name}/Production")  # holds nothing
    assert client.get_model_version_download_uri(copy, "2") == "s3://bucket/model"
    assert client.get_model_version_download_uri(copy, "3") == f"models:/{name}/Production"


def test_the_fluent_register_model_with_a_plain_uri(
    mlflow_server: RunningServer,
    client: MlflowClient,
    unique: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = unique + "fluent"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", mlflow_server.url)
    first = mlflow.register_model("s3://bucket/path", name)  # creates the model, then v1
    second = mlflow.register_model("s3://bucket/path/v2", name, tags={"k": "v"})  # exists: v2
    assert (first.version, second.version) == ("1", "2")
    assert client.get_model_version(name, "2").tags == {"k": "v"}
    assert client.get_model_version_download_uri(name, "1") == "s3://bucket/path"


def test_get_latest_versions_is_served_by_post_and_by_get(
    mlflow_server: RunningServer, client: MlflowClient, token: str, unique: str
) -> None:
    name = unique + "latest"
    client.create_registered_model(name)
    client.create_model_version(name, "s3://b/1", "run")
    headers = {"Authorization": f"Bearer {token}"}
    url = f"{mlflow_server.url}{PREFIX}/registered-models/get-latest-versions"
    by_post = httpx.post(url, json={"name": name, "stages": ["None"]}, headers=headers)
    by_get = httpx.get(url, params={"name": name, "stages": ["None", "Staging"]}, headers=headers)
    for response in (by_post, by_get):
        assert response.status_code == 200, response.text
        assert [v["version"] for v in response.json()["model_versions"]] == ["1"]
