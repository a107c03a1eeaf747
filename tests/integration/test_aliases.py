"""Aliases and key-value tags through the SDK on both stores: current answers, the alias
history, time travel ("which version held `champion` at P / at T"), and a fold from scratch
giving the same tables.

One scenario is written per store (``module_store``) and read by the named tests below; the
refusals, which append nothing, run on a fresh store each (``client``).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select

from modelplane.client import Client
from modelplane.domain.key_value_tags import MAX_VALUE_LENGTH
from modelplane.exceptions import EntityDeletedError, NotFoundError, ValidationError
from modelplane.projections.tables import event_index
from tests.conftest import SharedStore, store_of
from tests.projection_tables import dump_tables


def head(client: Client) -> int:
    with store_of(client).engine.connect() as conn:
        return int(conn.execute(select(func.max(event_index.c.position))).scalar() or 0)


@dataclass
class Scenario:
    """What the scenario did: after each step, the log's head and the aliases then."""

    #: (position, {alias: version number}) of model "iris" after each alias change
    timeline: list[tuple[int, dict[str, int]]] = field(default_factory=list)
    times: dict[str, datetime] = field(default_factory=dict)
    positions: dict[str, int] = field(default_factory=dict)


def _note(client: Client, scenario: Scenario, label: str) -> None:
    position = head(client)
    scenario.positions[label] = position
    held = {alias: v.number for alias, v in client.list_model_aliases("iris").items()}
    scenario.timeline.append((position, held))


@pytest.fixture(scope="module")
def written(module_store: SharedStore) -> Scenario:
    scenario = Scenario()
    with module_store.active():
        client = Client()
        client.create_model("iris")
        client.create_model_version(
            "iris", source="s3://bucket/iris/1", run_id="a" * 32, run_link="https://mlflow/r/1"
        )
        client.create_model_version("iris", name="rc", tags=["candidate"])
        client.create_model_version("iris")
        _note(client, scenario, "before")
        client.set_model_version_alias("iris", 1, "champion", reason="first")
        _note(client, scenario, "champion-1")
        client.set_model_version_alias("iris", "rc", "challenger")
        client.set_model_version_alias("iris", 2, "champion", reason="better")
        _note(client, scenario, "champion-2")
        scenario.times["champion-2"] = client.get_alias_history("iris")[-1].timestamp
        client.delete_model_version_alias("iris", "challenger", reason="done")
        # a set, a removal and a set again: a fold from scratch must end on the last one
        client.set_model_version_alias("iris", 3, "shadow")
        client.delete_model_version_alias("iris", "shadow")
        client.set_model_version_alias("iris", 1, "shadow")
        _note(client, scenario, "shadow-1")

        client.set_model_tag("iris", "team", "ml")
        client.set_model_tag("iris", "team", "vision")
        client.set_model_tag("iris", "gone", "soon")
        client.delete_model_tag("iris", "gone")
        client.set_model_version_tag("iris", "rc", "k", "v")
        scenario.positions["rc-tagged"] = head(client)
        client.set_model_version_tag("iris", "rc", "k", "")
        client.set_model_version_tag("iris", 1, "empty", "")

        rc = client.get_model_version("iris", "rc")
        client.delete_model_version(rc.id, reason="bad data")
        _note(client, scenario, "rc-deleted")
        client.set_model_version_alias("iris", 3, "champion")
        _note(client, scenario, "champion-3")

        # a model deleted while its aliases held versions, then its name registered again
        client.create_model("tmp")
        client.create_model_version("tmp")
        client.set_model_version_alias("tmp", 1, "keep")
        scenario.positions["tmp-held"] = head(client)
        client.delete_model("tmp", reason="retired")
        client.create_model("tmp")
    return scenario


@pytest.fixture
def scenario(module_store: SharedStore, written: Scenario) -> Iterator[Scenario]:
    with module_store.active():
        yield written


def test_aliases_name_their_versions_now(scenario: Scenario) -> None:
    client = Client()
    current = client.list_model_aliases("iris")
    assert {alias: v.number for alias, v in current.items()} == {"champion": 3, "shadow": 1}
    assert list(current) == ["champion", "shadow"]
    assert client.get_model("iris").aliases == {"champion": 3, "shadow": 1}
    assert client.get_model_version_by_alias("iris", "champion").number == 3
    assert client.get_model_version("iris", 3).aliases == ["champion"]
    assert client.get_model_version("iris", 1).aliases == ["shadow"]
    with pytest.raises(NotFoundError, match="no alias 'challenger'"):
        client.get_model_version_by_alias("iris", "challenger")
    versions = client.list_model_versions("iris")
    assert [(v.number, v.aliases) for v in versions] == [(3, ["champion"]), (1, ["shadow"])]


def test_the_history_says_who_moved_which_alias_when_and_why(scenario: Scenario) -> None:
    history = Client().get_alias_history("iris")
    assert [
        (c.alias, c.previous_version_number, c.version_number, c.actor, c.reason) for c in history
    ] == [
        ("champion", None, 1, "tester", "first"),
        ("challenger", None, 2, "tester", None),
        ("champion", 1, 2, "tester", "better"),
        ("challenger", 2, None, "tester", "done"),
        ("shadow", None, 3, "tester", None),
        ("shadow", 3, None, "tester", None),
        ("shadow", None, 1, "tester", None),
        ("champion", 2, None, "tester", "version 'rc' deleted: bad data"),
        ("champion", None, 3, "tester", None),
    ]
    positions = [c.position for c in history]
    assert positions == sorted(positions)
    assert [c.alias for c in Client().get_alias_history("iris", alias="champion")] == [
        "champion"
    ] * 4


def test_time_travel_answers_which_version_held_an_alias(scenario: Scenario) -> None:
    client = Client()
    for position, held in scenario.timeline:
        then = client.list_model_aliases("iris", at=position)
        assert {alias: v.number for alias, v in then.items()} == held, position
        assert all(v.as_of == position for v in then.values())
        for alias, number in held.items():
            found = client.get_model_version_by_alias("iris", alias, at=position)
            assert (found.number, found.as_of) == (number, position)
            assert alias in found.aliases
    with pytest.raises(NotFoundError, match="had no alias 'champion'"):
        client.get_model_version_by_alias("iris", "champion", at=scenario.positions["before"])
    # the deleted version "rc" held champion then, and is answered as it was
    holder = client.get_model_version_by_alias(
        "iris", "champion", at=scenario.positions["champion-2"]
    )
    assert (holder.name, holder.tags) == ("rc", ["candidate"])
    assert holder.aliases == ["challenger", "champion"]


def test_time_travel_by_a_datetime(scenario: Scenario) -> None:
    client = Client()
    moment = scenario.times["champion-2"]
    assert client.get_model_version_by_alias("iris", "champion", at=moment).number == 2
    naive = moment.replace(tzinfo=None)  # a naive datetime is UTC
    assert client.get_model_version_by_alias("iris", "champion", at=naive).number == 2


def test_a_deleted_models_aliases_went_with_it_and_its_past_stays(scenario: Scenario) -> None:
    client = Client()
    assert client.list_model_aliases("tmp") == {}
    with pytest.raises(NotFoundError):
        client.get_model_version_by_alias("tmp", "keep")
    past = client.get_model_version_by_alias("tmp", "keep", at=scenario.positions["tmp-held"])
    assert past.number == 1
    last = client.get_alias_history("tmp")[-1]
    assert (last.alias, last.version_number, last.reason) == (
        "keep",
        None,
        "model 'tmp' deleted: retired",
    )


def test_key_value_tags_now_and_then(scenario: Scenario) -> None:
    client = Client()
    assert client.get_model("iris").key_value_tags == {"team": "vision"}
    assert client.get_model_version("iris", 1).key_value_tags == {"empty": ""}
    assert client.get_model_version("iris", 3).key_value_tags == {}
    rc_then = client.get_model_version("iris", "rc", at=scenario.positions["rc-tagged"])
    assert rc_then.key_value_tags == {"k": "v"}
    rc_id = next(c.version_id for c in client.get_alias_history("iris") if c.version_number == 2)
    assert rc_id is not None
    rc = client.backend.get_model_version_by_id(rc_id, deleted_ok=True)
    assert rc.key_value_tags == {"k": ""}  # a deleted version keeps what it had


def test_source_and_run_are_kept_as_given(scenario: Scenario) -> None:
    client = Client()
    first = client.get_model_version("iris", 1)
    assert (first.source, first.run_id, first.run_link) == (
        "s3://bucket/iris/1",
        "a" * 32,
        "https://mlflow/r/1",
    )
    assert client.get_model_version("iris", 3).source is None
    listed = {v.number: v.source for v in client.list_model_versions("iris")}
    assert listed == {3: None, 1: "s3://bucket/iris/1"}


def test_a_fold_from_scratch_gives_the_same_tables(scenario: Scenario, tmp_path: Path) -> None:
    client = Client()
    with store_of(client).engine.connect() as conn:
        live = dump_tables(conn)
    assert live["mp_aliases"] and live["mp_alias_history"] and live["mp_kv_tag_history"]
    target = tmp_path / "fold.db"
    client.rebuild_projections(into=target)
    engine = create_engine(f"sqlite:///{target}")
    try:
        with engine.connect() as conn:
            assert dump_tables(conn) == live
    finally:
        engine.dispose()


# ------------------------------------------------------------------- refusals


def _two_versions(client: Client) -> tuple[Any, Any]:
    client.create_model("iris")
    return client.create_model_version("iris"), client.create_model_version("iris")


def test_setting_an_alias_on_its_holder_appends_nothing(client: Client) -> None:
    _two_versions(client)
    first = client.set_model_version_alias("iris", 1, "champion")
    before = head(client)
    again = client.set_model_version_alias("iris", first.id, "champion", reason="again")
    assert head(client) == before and again.aliases == ["champion"]


def test_an_alias_on_a_deleted_or_missing_version_is_not_found(client: Client) -> None:
    one, _ = _two_versions(client)
    client.delete_model_version(one.id)
    before = head(client)
    with pytest.raises(NotFoundError):
        client.set_model_version_alias("iris", 1, "champion")
    with pytest.raises(NotFoundError):
        client.set_model_version_alias("iris", 9, "champion")
    with pytest.raises(NotFoundError):
        client.set_model_version_alias("nope", 2, "champion")
    with pytest.raises(NotFoundError, match="no alias"):
        client.delete_model_version_alias("iris", "champion")
    assert head(client) == before


def test_hostile_alias_names_are_refused_before_anything_is_appended(client: Client) -> None:
    _two_versions(client)
    before = head(client)
    for alias in ("latest", "LaTeSt", "v3", "V1", "a" * 256, "<script>", "a b", "", "a\x00"):
        with pytest.raises(ValidationError):
            client.set_model_version_alias("iris", 1, alias)
    assert head(client) == before
    for alias in ("a" * 255, "冠军", "3", "champe\u0301on"):
        client.set_model_version_alias("iris", 1, alias)
    assert set(client.get_model("iris").aliases) == {"a" * 255, "冠军", "3", "champ\u00e9on"}


def test_key_value_tag_refusals_and_limits(client: Client) -> None:
    one, _ = _two_versions(client)
    before = head(client)
    with pytest.raises(NotFoundError):
        client.delete_model_tag("iris", "missing")
    with pytest.raises(NotFoundError):
        client.delete_model_version_tag("iris", 1, "missing")
    for key in ("", "/etc/passwd", "a/../b", "k" * 251):
        with pytest.raises(ValidationError):
            client.set_model_tag("iris", key, "v")
    with pytest.raises(ValidationError):
        client.set_model_version_tag("iris", 1, "k", "x" * (MAX_VALUE_LENGTH + 1))
    assert head(client) == before
    huge = "é" * MAX_VALUE_LENGTH
    client.set_model_version_tag("iris", 1, "huge", huge)
    client.set_model_tag("iris", "<b>", "[bold]x[/]")
    assert client.get_model_version("iris", 1).key_value_tags == {"huge": huge}
    assert client.get_model("iris").key_value_tags == {"<b>": "[bold]x[/]"}
    client.delete_model_version(one.id)
    with pytest.raises(EntityDeletedError):
        client.backend.set_model_version_tag(one.id, "k", "v")
