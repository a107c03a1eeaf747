"""Conditional promotion (``expected_holder``) in the domain, on in-memory persistence.

The rule lives in ``Model.update_version``, inside the command that appends the promotion;
these tests check what it refuses and what it lets through, and that a refusal appends
nothing. Across processes and over HTTP: tests/resilience/test_conditional_promotion_race.py,
tests/contract/test_sdk_contract.py and tests/http/test_conditional_promotion.py.
"""

from __future__ import annotations

import copy
from typing import Any
from uuid import UUID

import pytest

from modelplane.domain.errors import (
    PreconditionFailedError,
    StageOccupiedError,
    ValidationError,
)
from modelplane.domain.registry import Registry
from tests.unit.popo import head


def versions(registry: Registry) -> tuple[UUID, UUID, UUID, UUID]:
    """Model 'iris' with versions 1 (in production), rc (number 2) and 3."""
    model = registry.register_model("iris", fields={}, tags=None, actor="me").id
    one, rc, three = (
        registry.create_version(model, name=n, actor="me").id for n in (None, "rc", None)
    )
    registry.change_stage(one, "production", actor="me")
    return model, one, rc, three


def holder(registry: Registry, model: UUID, stage: str = "production") -> str | None:
    return registry.live_model(model).holder(stage)


@pytest.mark.parametrize("stale", ["3", "rc", "2", "none", "NONE", "nobody"])
def test_a_stale_holder_is_refused_naming_the_actual_one(registry: Registry, stale: str) -> None:
    model, one, _, three = versions(registry)
    before = head(registry)
    with pytest.raises(PreconditionFailedError) as raised:
        registry.change_stage(three, "production", force=True, expected_holder=stale, actor="me")
    assert head(registry) == before  # nothing appended, force or not
    assert holder(registry, model) == str(one)
    error = raised.value
    assert (error.stage, error.holder) == ("production", "1")
    assert "held by version '1'" in str(error) and str(one) in str(error)
    assert not isinstance(error, StageOccupiedError)  # a CLI prompt for force never catches it


def test_an_empty_stage_is_named_as_empty(registry: Registry) -> None:
    model, _, rc, three = versions(registry)
    before = head(registry)
    with pytest.raises(PreconditionFailedError, match="Stage staging of model 'iris' is empty"):
        registry.change_stage(three, "staging", expected_holder="rc", actor="me")
    assert head(registry) == before
    assert holder(registry, model, "staging") is None
    # "none" matches an empty stage
    registry.change_stage(three, "staging", expected_holder="none", actor="me")
    assert holder(registry, model, "staging") == str(three)
    with pytest.raises(PreconditionFailedError) as raised:
        registry.change_stage(rc, "staging", expected_holder="none", force=True, actor="me")
    assert raised.value.holder == "3"


@pytest.mark.parametrize("how", ["name", "number", "id", "int", "uuid", "id-upper"])
def test_the_expected_holder_is_matched_by_name_number_or_id(registry: Registry, how: str) -> None:
    model, _, rc, three = versions(registry)
    registry.change_stage(rc, "production", force=True, actor="me")
    expected: Any = {
        "name": "rc",
        "number": "2",
        "id": str(rc),
        "int": 2,
        "uuid": rc,
        "id-upper": str(rc).upper(),
    }[how]
    position = registry.change_stage(
        three, "production", force=True, expected_holder=expected, actor="me"
    )
    assert position == head(registry)
    assert holder(registry, model) == str(three)


def test_a_matching_holder_still_needs_force_to_be_archived(registry: Registry) -> None:
    model, one, _, three = versions(registry)
    before = head(registry)
    with pytest.raises(StageOccupiedError):
        registry.change_stage(three, "production", expected_holder="1", actor="me")
    assert head(registry) == before
    assert holder(registry, model) == str(one)
    registry.change_stage(three, "production", expected_holder="1", force=True, actor="me")
    assert holder(registry, model) == str(three)
    assert registry.live_model(model).held_stages() == {"production": str(three)}


def test_the_holder_itself_matches_and_nothing_is_appended(registry: Registry) -> None:
    _, one, _, _ = versions(registry)
    before = head(registry)
    assert registry.change_stage(one, "production", expected_holder="1", actor="me") is None
    with pytest.raises(PreconditionFailedError):
        registry.change_stage(one, "production", expected_holder="none", actor="me")
    assert head(registry) == before


def test_the_precondition_refuses_before_a_rename_in_the_same_command(registry: Registry) -> None:
    _, _, rc, _ = versions(registry)
    before = head(registry)
    with pytest.raises(PreconditionFailedError):
        registry.update_version(
            rc, name="renamed", stage="production", expected_holder="none", actor="me"
        )
    assert head(registry) == before
    assert registry.live_version(rc)[1].name == "rc"


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        (None, "1"),
        ("archived", "1"),
        ("none", "none"),
        ("production", ""),
        ("production", "  "),
        ("production", True),
        ("production", -1),
        ("production", 1.0),
        ("production", ["1"]),
        ("production", "x" * 256),
        ("production", "a\x00b"),
    ],
)
def test_a_malformed_precondition_is_a_validation_error(
    registry: Registry, stage: str | None, expected: Any
) -> None:
    _, _, rc, _ = versions(registry)
    before = head(registry)
    with pytest.raises(ValidationError):
        registry.update_version(rc, stage=stage, expected_holder=expected, actor="me")
    assert head(registry) == before


def test_a_refusal_on_a_stale_cached_model_is_checked_again_on_the_log(
    registry: Registry,
) -> None:
    """Another process moved the stage after this one cached the model: the cached copy says
    '1' holds production, the log says 'rc'. The caller who read 'rc' must not be refused."""
    model, one, rc, three = versions(registry)
    cache = registry.repository.cache
    assert cache is not None
    stale: Any = copy.deepcopy(cache.get(model))
    stale_rc: Any = copy.deepcopy(cache.get(rc))
    registry.change_stage(rc, "production", force=True, actor="other process")
    cache.put(model, stale)
    cache.put(rc, stale_rc)
    assert registry.live_model(model).holder("production") == str(one)  # the stale view
    registry.change_stage(three, "production", force=True, expected_holder="rc", actor="me")
    assert holder(registry, model) == str(three)
    # and the reverse: the stale copy matches, the log does not: the save conflicts, the
    # re-run refuses on the log's state
    stale = copy.deepcopy(cache.get(model))
    registry.change_stage(one, "production", force=True, actor="other process")
    cache.put(model, stale)
    before = head(registry)
    with pytest.raises(PreconditionFailedError) as raised:
        registry.change_stage(rc, "production", force=True, expected_holder="3", actor="me")
    assert raised.value.holder == "1"
    assert head(registry) == before
