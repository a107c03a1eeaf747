"""The MLflow searches run in SQL and answer what the filter grammar means, on both stores.

One store per module holds models and versions whose names and tag values are chosen to
trip SQL up: case twins, LIKE's and GLOB's wildcards and a backslash as plain characters,
non-ASCII letters, empty values, the prompt tag, versions without a run. Hypothesis draws
filters from the grammar, an order and a page size; every page is read through the search
the server runs (``api/mlflow/search.py``, via the local backend), and the pages joined
must be exactly the entities ``filter_oracle`` accepts, in the order the keys give
(names by code point, timestamps as stored, then the tie-breakers), each once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelplane.api.mlflow import filters, ordering, search
from modelplane.backend.local import LocalBackend
from modelplane.client import Client
from modelplane.domain.errors import ValidationError
from modelplane.responses import ModelResponse, ModelVersionResponse
from tests.conftest import SharedStore
from tests.mlflow import filter_oracle

NAMES = [
    "Alpha",
    "alpha",
    "al_pha",
    "al%pha",
    "a\\b",
    "a*b",
    "a?b",
    "[x]y",
    "ÉCOLE",
    "école",
    "fraud-v2",
    "日本モデル",
    "zeta",
]
TAG_VALUES = ["", "true", "false", "Vision", "vision", "v%x", "v_x", "Ünï", "a\\b"]
TAG_KEYS = ["team", "mlflow.prompt.is_prompt", "stage note"]
PATTERNS = [
    "%",
    "a%",
    "A%",
    "%pha",
    "al_pha",
    "al\\%pha",
    "%\\%",
    "a\\b",
    "[x]%",
    "é%",
    "É%",
    "%a*b%",
    "a?b",
    "_",
    "%v%",
    "%_x",
    "",
    "Ün%",
    "%2",
]


@pytest.fixture(scope="module")
def populated(module_store: SharedStore) -> Iterator[tuple[LocalBackend, dict[str, Any]]]:
    """The store, filled once, and every entity's plain values for the oracle."""
    with module_store.active():
        client = Client()
        models: dict[str, dict[str, str]] = {}
        versions: list[tuple[str, int, dict[str, str | int | None], dict[str, str]]] = []
        for i, name in enumerate(NAMES):
            client.create_model(name)
            tags = {TAG_KEYS[j % 3]: TAG_VALUES[(i + j) % len(TAG_VALUES)] for j in range(i % 3)}
            for key, value in tags.items():
                client.set_model_tag(name, key, value)
            models[name] = tags
            for number in range(1, i % 4 + 1):
                run = None if (i + number) % 3 == 0 else f"run-{(i * number) % 5}"
                source = f"s3://b/{NAMES[(i + number) % len(NAMES)]}"
                client.create_model_version(name, source=source, run_id=run)
                vtags = {"team": TAG_VALUES[(i + number) % len(TAG_VALUES)]} if number != 2 else {}
                for key, value in vtags.items():
                    client.set_model_version_tag(name, number, key, value)
                attrs: dict[str, str | int | None] = {
                    "name": name,
                    "version_number": number,
                    "run_id": run,
                    "source_path": source,
                }
                versions.append((name, number, attrs, vtags))
        client.delete_model(client.create_model("gone-alpha").name)  # never found
        backend = client.backend
        assert isinstance(backend, LocalBackend)
        yield backend, {"models": models, "versions": versions}


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _string_clause(draw: st.DrawFn, key: str, values: list[str]) -> str:
    comparator = draw(st.sampled_from(["=", "!=", "LIKE", "ILIKE"]))
    pool = PATTERNS if comparator in ("LIKE", "ILIKE") else values
    return f"{key} {comparator} {_quoted(draw(st.sampled_from(pool)))}"


def _list_clause(draw: st.DrawFn, key: str, listed: list[str]) -> str:
    comparator = draw(st.sampled_from(["IN", "NOT IN"]))
    return f"{key} {comparator} ({', '.join(map(_quoted, listed))})"


@st.composite
def model_filters(draw: st.DrawFn) -> str:
    clauses = []
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["name", "name_in", "tag", "prompt"]))
        if kind == "name":
            clauses.append(_string_clause(draw, "name", NAMES))
        elif kind == "name_in":
            listed = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=3))
            negate = draw(st.booleans())
            clauses.append(
                f"name {'NOT IN' if negate else 'IN'} ({', '.join(map(_quoted, listed))})"
            )
        elif kind == "tag":
            key = draw(st.sampled_from(TAG_KEYS))
            clauses.append(_string_clause(draw, f"tags.`{key}`", TAG_VALUES))
        else:
            clauses.append(
                draw(
                    st.sampled_from(
                        [
                            "tag.`mlflow.prompt.is_prompt` != 'true'",
                            "tag.`mlflow.prompt.is_prompt` = 'false'",
                        ]
                    )
                )
            )
    return " AND ".join(clauses)


@st.composite
def version_filters(draw: st.DrawFn) -> str:
    clauses = []
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["name", "run", "runs", "source", "number", "tag"]))
        if kind == "name":
            clauses.append(_string_clause(draw, "name", NAMES))
        elif kind == "run":
            clauses.append(_string_clause(draw, "run_id", [f"run-{i}" for i in range(5)]))
        elif kind == "runs":
            listed = draw(st.lists(st.sampled_from([f"run-{i}" for i in range(5)]), min_size=1))
            negate = draw(st.booleans())
            clauses.append(
                f"run_id {'NOT IN' if negate else 'IN'} ({', '.join(map(_quoted, listed))})"
            )
        elif kind == "source":
            clauses.append(_string_clause(draw, "source_path", [f"s3://b/{n}" for n in NAMES]))
        elif kind == "number":
            comparator = draw(st.sampled_from(["=", "!=", "<", "<=", ">", ">="]))
            clauses.append(f"version_number {comparator} {draw(st.integers(0, 4))}")
        else:
            clauses.append(_string_clause(draw, "tags.team", TAG_VALUES))
    return " AND ".join(clauses)


def _orders(fields: list[str]) -> st.SearchStrategy[list[str]]:
    item = st.tuples(st.sampled_from(fields), st.sampled_from(["", " ASC", " DESC"]))
    return st.lists(item, max_size=2, unique_by=lambda pair: pair[0]).map(
        lambda pairs: [field + way for field, way in pairs]
    )


def _all_pages(read: Callable[[str | None], search.Found[Any]]) -> list[Any]:
    rows, token, pages = [], None, 0
    while True:
        found = read(token)
        rows.extend(found.items)
        pages += 1
        assert pages < 200
        if found.next_page_token is None:
            return rows
        assert found.items, "a page with a next page is never empty"
        token = found.next_page_token


def _expected_order(keys: tuple[ordering.OrderKey, ...], values: dict[str, Any]) -> tuple[Any, ...]:
    return ordering.sort_key(keys, [values[key.field] for key in keys])


_SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@_SETTINGS
@given(
    text=model_filters(),
    order=_orders(["name", "creation_timestamp", "last_updated_timestamp"]),
    size=st.integers(1, 6),
)
def test_model_search_pages_are_the_oracles_answer_in_order(
    populated: tuple[LocalBackend, dict[str, Any]], text: str, order: list[str], size: int
) -> None:
    backend, known = populated
    found: list[ModelResponse] = _all_pages(
        lambda token: search.search_models(backend, text, size, order, token)
    )
    clauses = filters.parse(text, filters.REGISTERED_MODELS)
    expected = {
        n
        for n, tags in known["models"].items()
        if filter_oracle.matches(clauses, {"name": n}, tags)
    }
    assert len({m.name for m in found}) == len(found)
    assert {m.name for m in found} == expected
    keys = ordering.parse(order, ordering.REGISTERED_MODELS)
    ranks = [_expected_order(keys, _model_fields(m)) for m in found]
    assert ranks == sorted(ranks)


def _model_fields(model: ModelResponse) -> dict[str, Any]:
    return {
        "name": model.name,
        "creation_timestamp": model.created,
        "last_updated_timestamp": model.updated,
    }


def _version_fields(version: ModelVersionResponse) -> dict[str, Any]:
    return {
        "name": version.model_name,
        "version_number": version.number,
        "creation_timestamp": version.created,
        "last_updated_timestamp": version.updated,
    }


@_SETTINGS
@given(
    text=version_filters(),
    order=_orders(["name", "version_number", "creation_timestamp", "last_updated_timestamp"]),
    size=st.integers(1, 7),
)
def test_version_search_pages_are_the_oracles_answer_in_order(
    populated: tuple[LocalBackend, dict[str, Any]], text: str, order: list[str], size: int
) -> None:
    backend, known = populated
    found: list[ModelVersionResponse] = _all_pages(
        lambda token: search.search_versions(backend, text, size, order, token)
    )
    clauses = filters.parse(text, filters.MODEL_VERSIONS)
    expected = {
        (name, number)
        for name, number, attrs, tags in known["versions"]
        if filter_oracle.matches(clauses, attrs, tags)
    }
    got = [(v.model_name, v.number) for v in found]
    assert len(set(got)) == len(got)
    assert set(got) == expected
    keys = ordering.parse(order, ordering.MODEL_VERSIONS)
    ranks = [_expected_order(keys, _version_fields(v)) for v in found]
    assert ranks == sorted(ranks)


def test_a_token_for_a_time_no_row_can_have_is_refused(
    populated: tuple[LocalBackend, dict[str, Any]],
) -> None:
    backend, _ = populated
    order = ["creation_timestamp DESC"]
    first = search.search_models(backend, None, 1, order, None)
    assert first.next_page_token is not None
    keys = ordering.parse(order, ordering.REGISTERED_MODELS)
    digest = search.paging.search_digest(search.MODELS_SCOPE, None, keys)
    forged = search.paging.encode(search.MODELS_SCOPE, digest, [2**62, "x"])
    with pytest.raises(ValidationError, match="page_token"):
        search.search_models(backend, None, 1, order, forged)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("name ILIKE 'é%'", {"ÉCOLE", "école"}),
        ("name ILIKE 'ÉCOLE'", {"ÉCOLE", "école"}),
        ("name LIKE 'é%'", {"école"}),
        ("name ILIKE 'ALPHA'", {"Alpha", "alpha"}),
        ("name LIKE 'al_pha'", {"al_pha", "al%pha"}),
        ("name LIKE 'a*b'", {"a*b"}),
        ("name LIKE 'a\\b'", {"a\\b"}),
        ("name LIKE '[x]%'", {"[x]y"}),
    ],
)
def test_like_and_ilike_fold_case_the_same_on_both_stores(
    populated: tuple[LocalBackend, dict[str, Any]], text: str, names: set[str]
) -> None:
    backend, _ = populated
    found = search.search_models(backend, text, 100, [], None)
    assert {m.name for m in found.items} == names


@pytest.mark.parametrize(
    ("text", "all_or_none"),
    [
        ("version_number > 3000000000", False),
        ("version_number <= 3000000000", True),
        ("version_number = 9999999999999999999", False),
        ("version_number != 9999999999999999999", True),
        ("version_number >= -9999999999", True),
        ("version_number < -9999999999", False),
    ],
)
def test_numbers_past_any_version_compare_without_failing(
    populated: tuple[LocalBackend, dict[str, Any]], text: str, all_or_none: bool
) -> None:
    backend, known = populated
    found = search.search_versions(backend, text, 1000, [], None)
    assert len(found.items) == (len(known["versions"]) if all_or_none else 0)


def test_a_token_for_a_version_number_no_version_can_have_is_refused(
    populated: tuple[LocalBackend, dict[str, Any]],
) -> None:
    backend, _ = populated
    order = ["version_number DESC"]
    keys = ordering.parse(order, ordering.MODEL_VERSIONS)
    digest = search.paging.search_digest(search.VERSIONS_SCOPE, None, keys)
    forged = search.paging.encode(search.VERSIONS_SCOPE, digest, [2**40, "m"])
    with pytest.raises(ValidationError, match="page_token"):
        search.search_versions(backend, None, 1, order, forged)


def test_an_ilike_of_many_wildcards_answers_at_once(
    populated: tuple[LocalBackend, dict[str, Any]],
) -> None:
    """A pattern that makes a backtracking matcher take minutes (``%`` runs before a letter
    no name has) is answered like any other (no timing asserted: it would hang, not slow)."""
    backend, _ = populated
    found = search.search_models(backend, "name ILIKE '" + "%a" * 40 + "%z'", 100, [], None)
    assert found.items == []
