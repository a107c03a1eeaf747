"""Time travel by model name finds the model that had the name then (one seek on the name's
history), through renames, deletions and registering the name again; ``at=<datetime>``
finds the last position at or before the time the same way.

Integration tests on both stores (the ``client`` fixture).
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from modelplane.client import Client
from modelplane.exceptions import NotFoundError


def _head(client: Client) -> int:
    return client.list_events(after=0, limit=10**6)[-1].position


def _at(client: Client, name: str, at: object) -> str:
    """The description of the model's version 1 as read at ``at`` (it tells lives apart)."""
    found = client.get_model_version(name, "1", at=at)  # type: ignore[arg-type]
    return str(found.description)


def test_a_name_through_renames_deletions_and_a_second_life(client: Client) -> None:
    client.create_model("a")
    client.create_model_version("a", description="first a")
    p1 = _head(client)  # a = first model
    client.update_model("a", name="b")
    p2 = _head(client)  # the first model is b; nobody is a
    client.create_model("a")
    client.create_model_version("a", description="second a")
    p3 = _head(client)  # a = second model, b = first
    client.delete_model("a")
    p4 = _head(client)  # nobody is a
    client.update_model("b", name="a")
    p5 = _head(client)  # a = first model again
    client.delete_model("a")
    client.create_model("a")
    client.create_model_version("a", description="third a")
    p6 = _head(client)  # a = third model; b never again

    assert _at(client, "a", p1) == "first a"
    with pytest.raises(NotFoundError):
        _at(client, "a", p2)
    assert _at(client, "b", p2) == "first a"
    assert _at(client, "a", p3) == "second a"
    assert _at(client, "b", p3) == "first a"
    with pytest.raises(NotFoundError):
        _at(client, "a", p4)
    assert _at(client, "a", p5) == "first a"
    with pytest.raises(NotFoundError):
        _at(client, "b", p5)
    assert _at(client, "a", p6) == "third a"
    with pytest.raises(NotFoundError):
        _at(client, "b", p6)
    assert _at(client, "a", p6 + 1000) == "third a"
    with pytest.raises(NotFoundError):
        _at(client, "a", 0)


def test_the_same_lives_by_datetime(client: Client) -> None:
    client.create_model("a")
    client.create_model_version("a", description="first a")
    t1 = client.get_model_version("a", "1").created
    client.update_model("a", name="b")
    renamed = client.get_model("b").updated
    client.create_model("a")
    client.create_model_version("a", description="second a")
    t3 = client.get_model_version("a", "1").created

    assert _at(client, "a", t1) == "first a"
    assert _at(client, "a", renamed - timedelta(microseconds=1)) == "first a"
    with pytest.raises(NotFoundError):
        _at(client, "a", renamed)
    assert _at(client, "b", renamed) == "first a"
    assert _at(client, "a", t3) == "second a"
    assert _at(client, "a", t3 + timedelta(days=1)) == "second a"
    with pytest.raises(NotFoundError):
        _at(client, "a", t1 - timedelta(days=1))


def test_another_model_taking_a_freed_name_is_not_the_old_one(client: Client) -> None:
    """The last model to take a name is the only one that can hold it then."""
    client.create_model("x")
    client.create_model_version("x", description="x first")
    client.create_model("y")
    client.create_model_version("y", description="y first")
    client.update_model("x", name="gone")
    client.update_model("y", name="x")  # y takes the freed name x
    p = _head(client)
    assert _at(client, "x", p) == "y first"
    assert _at(client, "gone", p) == "x first"
    with pytest.raises(NotFoundError):
        _at(client, "y", p)


def test_a_past_view_shows_the_name_the_model_had_then(client: Client) -> None:
    """A version read as of a position carries its model's name at that position, whether
    it is asked for by the old name, the new one (by id) or after a second rename."""
    model = client.create_model("before-rename")
    client.create_model_version("before-rename")
    p1 = _head(client)
    client.update_model("before-rename", name="after-rename")
    p2 = _head(client)
    client.update_model("after-rename", name="third-name")

    assert client.get_model_version("before-rename", "1", at=p1).model_name == "before-rename"
    assert client.get_model_version(model.id, "1", at=p1).model_name == "before-rename"
    assert client.get_model_version(model.id, "1", at=p2).model_name == "after-rename"
    assert client.get_model_version("third-name", "1").model_name == "third-name"
