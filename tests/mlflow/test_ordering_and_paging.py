"""``order_by`` (MLflow's fields, directions and tie-breakers) and the opaque page tokens that
resume a search after the last row a page showed."""

from __future__ import annotations

import base64

import orjson
import pytest

from modelplane.api.mlflow import ordering, paging
from modelplane.api.mlflow.ordering import MODEL_VERSIONS, REGISTERED_MODELS, OrderKey
from modelplane.domain.errors import ValidationError


def test_models_sort_by_name_unless_told_and_break_ties_by_name() -> None:
    assert ordering.parse(None, REGISTERED_MODELS) == (OrderKey("name"),)
    assert ordering.parse(["last_updated_timestamp DESC"], REGISTERED_MODELS) == (
        OrderKey("last_updated_timestamp", descending=True),
        OrderKey("name"),
    )
    assert ordering.parse(["name desc"], REGISTERED_MODELS) == (OrderKey("name", True),)
    assert ordering.parse(["timestamp"], REGISTERED_MODELS) == (
        OrderKey("creation_timestamp"),
        OrderKey("name"),
    )


def test_versions_sort_as_mlflow_by_default_and_break_ties_by_name_then_number() -> None:
    assert ordering.parse([], MODEL_VERSIONS) == (
        OrderKey("last_updated_timestamp", True),
        OrderKey("name"),
        OrderKey("version_number", True),
    )
    # MLflow's own test: "version_number DESC" sorts as (-version, name)
    assert ordering.parse(["version_number DESC"], MODEL_VERSIONS) == (
        OrderKey("version_number", True),
        OrderKey("name"),
    )
    assert ordering.parse(["`name` DESC"], MODEL_VERSIONS) == (
        OrderKey("name", True),
        OrderKey("version_number", True),
    )


@pytest.mark.parametrize(
    ("items", "grammar", "said"),
    [
        (["name", "name DESC"], REGISTERED_MODELS, "duplicate fields"),
        (["version_number"], REGISTERED_MODELS, "Invalid order by key 'version_number'"),
        (["run_id"], MODEL_VERSIONS, "Invalid order by key 'run_id'"),
        (["name sideways"], MODEL_VERSIONS, "Invalid ordering key"),
        (["name ASC extra"], MODEL_VERSIONS, "Could not be parsed"),
        ([""], MODEL_VERSIONS, "Could not be parsed"),
    ],
)
def test_order_by_refusals(items: list[str], grammar: ordering.Ordering, said: str) -> None:
    with pytest.raises(ValidationError, match=said):
        ordering.parse(items, grammar)


def test_sort_keys_order_each_field_its_own_way() -> None:
    keys = ordering.parse(["version_number DESC"], MODEL_VERSIONS)
    rows = [("b", 1), ("a", 2), ("a", 1), ("c", 2)]
    ordered = sorted(rows, key=lambda r: ordering.sort_key(keys, [r[1], r[0]]))
    assert ordered == [("a", 2), ("c", 2), ("a", 1), ("b", 1)]
    with pytest.raises(ValueError):
        ordering.sort_key(keys, ["too few"])


SCOPE = "model-versions"


def test_a_token_round_trips_the_last_key_of_its_search() -> None:
    digest = paging.search_digest(SCOPE, "name = 'a'", ["name ASC"])
    token = paging.encode(SCOPE, digest, ["a", 3, 1_796_000_000_000])
    assert "=" not in token and "/" not in token and "+" not in token
    assert paging.decode(token, SCOPE, digest, [str, int, int]) == ("a", 3, 1_796_000_000_000)


def test_a_token_belongs_to_its_search() -> None:
    digest = paging.search_digest(SCOPE, "name = 'a'", ["name ASC"])
    token = paging.encode(SCOPE, digest, ["a"])
    for other in (
        paging.search_digest(SCOPE, "name = 'b'", ["name ASC"]),
        paging.search_digest(SCOPE, "name = 'a'", ["name DESC"]),
        paging.search_digest("registered-models", "name = 'a'", ["name ASC"]),
    ):
        assert other != digest
        with pytest.raises(ValidationError, match="another search"):
            paging.decode(token, SCOPE, other, [str])
    with pytest.raises(ValidationError, match="another search"):
        paging.decode(token, "registered-models", digest, [str])


def _forged(body: object) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(body)).decode().rstrip("=")


@pytest.mark.parametrize(
    "token",
    [
        "not a token",
        "%%%",
        "e30",  # {}
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        _forged([1, 2]),
        _forged({"s": SCOPE, "d": "x", "k": ["a"], "extra": 1}),
        "A" * (paging.MAX_TOKEN_LENGTH + 1),
    ],
)
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(ValidationError, match="page_token"):
        paging.decode(token, SCOPE, "x", [str])


@pytest.mark.parametrize("last", [[1], ["a", "b"], [], [True], ["a", None]])
def test_tokens_whose_key_has_the_wrong_shape_are_refused(last: list[object]) -> None:
    types = [str] if len(last) != 2 else [str, int]
    with pytest.raises(ValidationError, match="Invalid page_token"):
        paging.decode(_forged({"s": SCOPE, "d": "x", "k": last}), SCOPE, "x", types)
