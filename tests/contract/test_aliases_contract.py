"""Aliases, key-value tags and a version's source, through each backend (``conftest.py``):
locally and through a server over SQLite and PostgreSQL, the same calls give the same
answers and raise the same exception types."""

from __future__ import annotations

import pytest

from modelplane import Model, pipeline, step
from modelplane.client import Client
from modelplane.domain.key_value_tags import MAX_VALUE_LENGTH
from modelplane.enums import ModelStages
from modelplane.exceptions import EntityDeletedError, NotFoundError, ValidationError
from tests.contract.conftest import Target


def test_aliases_move_and_are_read_now_and_then(sdk: Target, unique: str) -> None:
    client = Client()
    client.create_model(unique)
    first = client.create_model_version(unique)
    client.create_model_version(unique, name="1.2.3")
    set_ = client.set_model_version_alias(unique, 1, "champion", reason="first")
    assert (set_.id, set_.aliases) == (first.id, ["champion"])
    moved = client.set_model_version_alias(unique, "1.2.3", "champion", reason="better")
    assert moved.name == "1.2.3" and moved.aliases == ["champion"]
    client.set_model_version_alias(unique, first.id, "stable")
    client.set_model_version_alias(unique, ModelStages.LATEST, "newest")

    assert client.get_model_version_by_alias(unique, "champion").name == "1.2.3"
    assert client.get_model(unique).aliases == {"champion": 2, "newest": 2, "stable": 1}
    listed = client.list_model_aliases(unique)
    assert {alias: v.number for alias, v in listed.items()} == client.get_model(unique).aliases
    assert listed["stable"].aliases == ["stable"]

    history = client.get_alias_history(unique, alias="champion")
    assert [(h.previous_version_number, h.version_number, h.reason) for h in history] == [
        (None, 1, "first"),
        (1, 2, "better"),
    ]
    assert {h.actor for h in history} == {sdk.actor}
    then = client.get_model_version_by_alias(unique, "champion", at=history[0].position)
    assert then.number == 1 and then.as_of is not None
    by_time = client.get_model_version_by_alias(unique, "champion", at=history[0].timestamp)
    assert by_time.number == 1
    assert set(client.list_model_aliases(unique, at=history[0].position)) == {"champion"}

    client.delete_model_version_alias(unique, "newest", reason="noise")
    with pytest.raises(NotFoundError):
        client.get_model_version_by_alias(unique, "newest")
    with pytest.raises(NotFoundError):
        client.delete_model_version_alias(unique, "newest")
    client.delete_model_version(first.id, reason="bad")
    assert client.get_model(unique).aliases == {"champion": 2}
    assert client.get_alias_history(unique)[-1].reason == "version '1' deleted: bad"


def test_alias_refusals_keep_their_types(sdk: Target, unique: str) -> None:
    client = Client()
    client.create_model(unique)
    version = client.create_model_version(unique)
    for alias in ("latest", "V2", "a" * 256, "a/b", "<b>"):
        with pytest.raises(ValidationError):
            client.set_model_version_alias(unique, 1, alias)
    with pytest.raises(NotFoundError):
        client.set_model_version_alias(unique, 7, "champion")
    with pytest.raises(NotFoundError):
        client.get_model_version_by_alias(unique + "-nope", "champion")
    client.delete_model_version(version.id)
    with pytest.raises(NotFoundError):
        client.set_model_version_alias(unique, version.id, "champion")
    assert client.get_alias_history(unique) == []


def test_unicode_aliases_and_keys_travel_in_paths(sdk: Target, unique: str) -> None:
    client = Client()
    client.create_model(unique)
    client.create_model_version(unique)
    client.set_model_version_alias(unique, 1, "冠军")
    client.set_model_version_alias(unique, 1, "champe\u0301on")  # stored composed
    assert client.get_model_version_by_alias(unique, "champ\u00e9on").number == 1
    assert client.get_model_version_by_alias(unique, "冠军").aliases == ["champ\u00e9on", "冠军"]
    client.set_model_tag(unique, "a/b c?d#e%f", "x")
    client.set_model_version_tag(unique, 1, "dir/key", "y")
    assert client.get_model(unique).key_value_tags == {"a/b c?d#e%f": "x"}
    client.delete_model_tag(unique, "a/b c?d#e%f")
    client.delete_model_version_tag(unique, 1, "dir/key")
    assert client.get_model_version(unique, 1).key_value_tags == {}


def test_key_value_tags_are_upserts_beside_the_string_tags(sdk: Target, unique: str) -> None:
    client = Client()
    client.create_model(unique, tags=["zenml-style"])
    version = client.create_model_version(unique, tags=["rc"])
    client.set_model_tag(unique, "team", "ml")
    client.set_model_tag(unique, "team", "vision")
    client.set_model_tag(unique, "empty", "")
    model = client.get_model(unique)
    assert model.key_value_tags == {"empty": "", "team": "vision"}
    assert model.tags == ["zenml-style"]
    huge = "<b>" + "é" * (MAX_VALUE_LENGTH - 3)
    client.set_model_version_tag(unique, "1", "notes", huge)
    read = client.get_model_version(unique, version.id)
    assert read.key_value_tags == {"notes": huge} and read.tags == ["rc"]
    client.delete_model_tag(unique, "team")
    assert client.get_model(unique).key_value_tags == {"empty": ""}
    with pytest.raises(NotFoundError):
        client.delete_model_tag(unique, "team")
    with pytest.raises(NotFoundError):
        client.delete_model_version_tag(unique, 1, "team")
    with pytest.raises(ValidationError):
        client.set_model_tag(unique, "../etc", "x")
    with pytest.raises(ValidationError):
        client.set_model_version_tag(unique, 1, "k", "x" * (MAX_VALUE_LENGTH + 1))
    client.delete_model_version(version.id)
    with pytest.raises(EntityDeletedError):
        client.backend.set_model_version_tag(version.id, "k", "v")


def test_source_and_run_are_kept_as_given(sdk: Target, unique: str) -> None:
    client = Client()
    client.create_model(unique)
    created = client.create_model_version(
        unique, source="s3://bucket/model", run_id="0" * 32, run_link="https://x/#/runs/1"
    )
    assert (created.source, created.run_id, created.run_link) == (
        "s3://bucket/model",
        "0" * 32,
        "https://x/#/runs/1",
    )
    assert client.get_model_version(unique, 1).source == "s3://bucket/model"
    with pytest.raises(ValidationError):
        client.create_model_version(unique, source="a\x00b")
    plain = client.create_model_version(unique)
    assert (plain.source, plain.run_id, plain.run_link) == (None, None, None)


def test_a_pipelines_model_gives_its_source_to_the_version_it_creates(
    sdk: Target, unique: str
) -> None:
    @step
    def train() -> int:
        return 1

    @pipeline(model=Model(name=unique, source="s3://runs/out", run_id="r-1"))
    def training() -> None:
        train()

    training()
    version = Client().get_model_version(unique)
    assert (version.source, version.run_id, version.run_link) == ("s3://runs/out", "r-1", None)


def test_alias_events_are_in_the_log(sdk: Target, unique: str) -> None:
    client = Client()
    client.create_model(unique)
    client.create_model_version(unique)
    client.set_model_version_alias(unique, 1, "champion", reason="why")
    client.set_model_tag(unique, "k", "v")
    events = client.list_events(model=unique)
    alias_set = next(e for e in events if e.type == "Model.AliasSet")
    assert alias_set.payload["alias"] == "champion" and alias_set.payload["reason"] == "why"
    assert alias_set.actor == sdk.actor
    assert events[-1].type == "Model.KeyValueTagSet"
