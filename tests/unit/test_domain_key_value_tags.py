"""Key-value tags (MLflow's) of models and versions, without a store: upserts, deletions,
MLflow's limits, and keys that must not read as paths."""

from __future__ import annotations

import pytest

from modelplane.domain.errors import EntityDeletedError, NotFoundError, ValidationError
from modelplane.domain.key_value_tags import (
    MAX_KEY_LENGTH,
    MAX_VALUE_LENGTH,
    check_key,
    check_value,
)
from modelplane.domain.registry import Registry
from tests.unit.popo import head
from tests.unit.test_domain_model import delete, model_with_versions, names, settled


def test_setting_a_tag_is_an_upsert_and_the_same_value_triggers_nothing() -> None:
    model, (one,) = model_with_versions(None)
    assert model.set_key_value_tag("team", "ml", actor="me")
    assert model.set_key_value_tag("team", "vision", actor="me")
    assert names(model.collect_events()) == ["KeyValueTagSet", "KeyValueTagSet"]
    assert not model.set_key_value_tag("team", "vision", actor="me")
    assert model.collect_events() == []
    assert model.key_value_tags == {"team": "vision"}

    assert one.set_key_value_tag("k", "", actor="me")  # MLflow allows empty values
    assert not one.set_key_value_tag("k", "", actor="me")
    (event,) = one.collect_events()
    assert (event.key, event.value, event.model_id) == ("k", "", str(model.id))  # type: ignore[attr-defined]


def test_deleting_a_missing_key_is_not_found() -> None:
    model, (one,) = model_with_versions(None)
    with pytest.raises(NotFoundError, match="no tag with key 'team'"):
        model.delete_key_value_tag("team", actor="me")
    with pytest.raises(NotFoundError, match="no tag with key 'team'"):
        one.delete_key_value_tag("team", actor="me")
    model.set_key_value_tag("team", "ml", actor="me")
    model.delete_key_value_tag("team", actor="me")
    assert names(model.collect_events()) == ["KeyValueTagSet", "KeyValueTagDeleted"]
    assert model.key_value_tags == {}


def test_a_deleted_version_takes_no_tag() -> None:
    model, (one,) = model_with_versions(None)
    one.set_key_value_tag("k", "v", actor="me")
    delete(model, one)
    settled(model, one)
    with pytest.raises(EntityDeletedError):
        one.set_key_value_tag("k", "w", actor="me")
    with pytest.raises(EntityDeletedError):
        one.delete_key_value_tag("k", actor="me")


@pytest.mark.parametrize(
    "key",
    [
        "team",
        "mlflow.prompt.is_prompt",
        "a/b",
        "a b",
        " padded ",
        "<script>",
        "[bold]x[/]",
        "冠军",
        "k" * MAX_KEY_LENGTH,
    ],
)
def test_keys_mlflow_accepts_are_accepted(key: str) -> None:
    assert check_key(key) == key


@pytest.mark.parametrize(
    "key",
    [
        "",
        "k" * (MAX_KEY_LENGTH + 1),
        "/a",
        "a/../b",
        "../a",
        "..",
        ".",
        "a/",
        "a//b",
        "./a",
        "a/.",
        "..a",  # MLflow refuses any key whose path starts with '..'
        "a\x00b",
        "a\nb",
        "a\u202eb",
        "\udc80",
    ],
)
def test_path_like_empty_long_and_invisible_keys_are_refused(key: str) -> None:
    with pytest.raises(ValidationError):
        check_key(key)


def test_a_key_is_normalised_to_nfc() -> None:
    assert check_key("cafe\u0301") == "caf\u00e9"


@pytest.mark.parametrize("value", ["", " ", "<b>x</b>", "line\nbreak\ttab", "é" * MAX_VALUE_LENGTH])
def test_values_are_any_text_up_to_the_limit(value: str) -> None:
    assert check_value(value, "k") == value


@pytest.mark.parametrize("value", ["x" * (MAX_VALUE_LENGTH + 1), "a\x00b", "\ud800", None, 3])
def test_values_no_store_keeps_are_refused(value: object) -> None:
    with pytest.raises(ValidationError):
        check_value(value, "k")


def test_the_registry_appends_nothing_for_a_repeat_or_a_refusal(registry: Registry) -> None:
    model = registry.register_model("iris", fields={}, tags=None, actor="me")
    version = registry.create_version(model.id, actor="me")
    first = registry.set_model_key_value_tag(model.id, "team", "ml", actor="me")
    assert first == head(registry)
    assert registry.set_model_key_value_tag(model.id, "team", "ml", actor="me") is None
    assert registry.set_version_key_value_tag(version.id, "k", "v", actor="me") == first + 1
    assert registry.set_version_key_value_tag(version.id, "k", "v", actor="me") is None
    before = head(registry)
    with pytest.raises(ValidationError):
        registry.set_model_key_value_tag(model.id, "/etc", "x", actor="me")
    with pytest.raises(ValidationError):
        registry.set_version_key_value_tag(
            version.id, "k", "x" * (MAX_VALUE_LENGTH + 1), actor="me"
        )
    with pytest.raises(NotFoundError):
        registry.delete_version_key_value_tag(version.id, "missing", actor="me")
    assert head(registry) == before
    registry.delete_model_key_value_tag(model.id, "team", actor="me")
    registry.delete_version_key_value_tag(version.id, "k", actor="me")
    assert head(registry) == before + 2
    assert registry.live_model(model.id).key_value_tags == {}


def test_the_registry_refuses_tags_on_a_deleted_model(registry: Registry) -> None:
    model = registry.register_model("iris", fields={}, tags=None, actor="me")
    registry.delete_model(model.id, actor="me")
    with pytest.raises(NotFoundError):
        registry.set_model_key_value_tag(model.id, "team", "ml", actor="me")
