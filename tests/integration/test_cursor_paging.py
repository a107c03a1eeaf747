"""Keyset paging: a cursor walk hands out every row once, in order, whatever is written
between two pages; page numbers keep working beside it.

Integration tests on both stores (the ``client`` fixture).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from modelplane.artifacts.utils import save_artifact
from modelplane.client import Client
from modelplane.exceptions import ValidationError
from modelplane.responses import Page


def _unpack(cursor: str | None) -> str:
    assert cursor is not None
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()


def _pack(payload: list[Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


def _walk(first: Page[Any], more: Callable[[str], Page[Any]]) -> list[list[Any]]:
    pages = [list(first)]
    page = first
    while page.next_cursor is not None:
        page = more(page.next_cursor)
        pages.append(list(page))
    return pages


def test_a_model_walk_sees_every_model_once_in_name_order(client: Client) -> None:
    for k in range(7):
        client.create_model(f"m{k}")
    first = client.list_models(size=3)
    assert [m.name for m in first] == ["m0", "m1", "m2"] and first.total == 7
    # Between pages: a model after the cursor appears, one before it changes nothing,
    # a deleted one after it disappears, one renamed past the cursor shows up there.
    client.create_model("m35")
    client.create_model("a-before")
    client.delete_model("m4")
    client.update_model("m1", name="m9")
    second = client.list_models(size=3, cursor=first.next_cursor)
    assert [m.name for m in second] == ["m3", "m35", "m5"] and second.index == 2
    pages = _walk(second, lambda c: client.list_models(size=3, cursor=c))
    assert [[m.name for m in page] for page in pages] == [["m3", "m35", "m5"], ["m6", "m9"]]
    assert client.list_models(size=3, cursor=second.next_cursor).index == 3
    assert client.list_models().total == 8


def test_the_last_full_page_has_no_cursor(client: Client) -> None:
    for k in range(4):
        client.create_model(f"m{k}")
    page = client.list_models(size=2)
    last = client.list_models(size=2, cursor=page.next_cursor)
    assert [m.name for m in last] == ["m2", "m3"] and last.next_cursor is None
    assert client.list_models(size=4).next_cursor is None
    assert client.list_models(page=2, size=2).next_cursor is None
    assert client.list_models(page=1, size=3).next_cursor is not None


def test_a_version_walk_survives_inserts_and_deletes_between_pages(client: Client) -> None:
    client.create_model("iris")
    for _ in range(9):
        client.create_model_version("iris")
    first = client.list_model_versions("iris", size=4)
    assert [v.number for v in first] == [9, 8, 7, 6]
    client.create_model_version("iris")  # 10: newer than the cursor, not seen by this walk
    deleted = client.get_model_version("iris", "3")
    client.delete_model_version(deleted.id)
    again = client.get_model_version("iris", "7")
    client.delete_model_version(again.id)  # behind the cursor: nothing shifts
    pages = _walk(first, lambda c: client.list_model_versions("iris", size=4, cursor=c))
    numbers = [[v.number for v in page] for page in pages]
    assert numbers == [[9, 8, 7, 6], [5, 4, 2, 1]]
    assert client.list_model_versions("iris").total == 8


def test_page_numbers_still_page_and_hand_out_a_cursor(client: Client) -> None:
    client.create_model("iris")
    for _ in range(5):
        client.create_model_version("iris")
    second = client.list_model_versions("iris", page=2, size=2)
    assert [v.number for v in second] == [3, 2] and second.index == 2
    third = client.list_model_versions("iris", size=2, cursor=second.next_cursor)
    assert [v.number for v in third] == [1] and third.index == 3 and third.total == 5


def test_artifact_versions_and_runs_walk_by_cursor(client: Client) -> None:
    for k in range(5):
        save_artifact("data", {"k": k})
    save_artifact("other", {"other": 1})
    first = client.list_artifact_versions(name="data", size=2)
    assert [a.number for a in first] == [5, 4] and first.total == 5
    save_artifact("data", {"k": 99})  # newer than the walk
    pages = _walk(first, lambda c: client.list_artifact_versions(name="data", size=2, cursor=c))
    assert [[a.number for a in page] for page in pages] == [[5, 4], [3, 2], [1]]
    everything = _walk(
        client.list_artifact_versions(size=4),
        lambda c: client.list_artifact_versions(size=4, cursor=c),
    )
    assert sum(map(len, everything)) == 7
    assert client.list_artifact_versions().total == 7
    runs = client.list_pipeline_runs(size=2)
    assert runs.next_cursor is None and runs.total == 0


def test_a_cursor_is_tied_to_its_listing_and_filters(client: Client) -> None:
    client.create_model("iris", tags=["a"])
    client.create_model("mnist", tags=["a"])
    for _ in range(3):
        client.create_model_version("iris")
    models = client.list_models(size=1)
    versions = client.list_model_versions("iris", size=1)
    assert models.next_cursor and versions.next_cursor
    with pytest.raises(ValidationError, match="another listing"):
        client.list_model_versions("iris", size=1, cursor=models.next_cursor)
    with pytest.raises(ValidationError, match="another listing"):
        client.list_models(tag="a", size=1, cursor=models.next_cursor)
    with pytest.raises(ValidationError, match="another listing"):
        client.list_model_versions("iris", stage="archived", cursor=versions.next_cursor)
    with pytest.raises(ValidationError, match="not both"):
        client.list_models(page=2, cursor=models.next_cursor)
    for bad in ("", "not a cursor", "x" * 5000, "W10"):
        with pytest.raises(ValidationError):
            client.list_models(cursor=bad)
    # a cursor edited by hand: a key of another type, or out of range, is refused too
    kind, digest, _, _ = json.loads(_unpack(versions.next_cursor))
    bad_keys = (([{"a": 1}], 2), ([2**70], 2), ([True], 2), ([1, 2], 2), ([1], 1), (["1"], 2))
    for key, index in bad_keys:
        forged = _pack([kind, digest, key, index])
        with pytest.raises(ValidationError, match="Invalid cursor"):
            client.list_model_versions("iris", size=1, cursor=forged)
    with pytest.raises(ValidationError):
        client.list_models(cursor=123)  # type: ignore[arg-type]


@pytest.mark.parametrize("deleted_scan", [1_000, 2])
def test_page_numbers_of_versions_skip_deleted_ones_exactly(
    client: Client, deleted_scan: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page number of unfiltered versions becomes a seek past the deleted numbers (or,
    with more deleted than ``MAX_DELETED_SCAN``, an OFFSET): the same rows either way."""
    from modelplane.projections.queries import versions

    monkeypatch.setattr(versions, "MAX_DELETED_SCAN", deleted_scan)
    client.create_model("iris")
    for _ in range(12):
        client.create_model_version("iris")
    for number in ("12", "9", "8", "3"):
        client.delete_model_version(client.get_model_version("iris", number).id)
    live = [11, 10, 7, 6, 5, 4, 2, 1]
    for size in (1, 3, 5):
        for page in range(1, 5):
            listed = client.list_model_versions("iris", page=page, size=size)
            assert [v.number for v in listed] == live[(page - 1) * size : page * size]
            assert listed.total == 8


@pytest.mark.parametrize("deleted_scan", [1_000, 0])
def test_a_page_far_past_the_end_is_empty(
    client: Client, monkeypatch: pytest.MonkeyPatch, deleted_scan: int
) -> None:
    """Found by the schema fuzz: page 33842466253493 of size 1452 made PostgreSQL answer 500
    (the seek's version number did not fit the column); the OFFSET path must hold too."""
    from modelplane.projections.queries import versions

    monkeypatch.setattr(versions, "MAX_DELETED_SCAN", deleted_scan)
    client.create_model("iris")
    for _ in range(3):
        client.create_model_version("iris")
    client.delete_model_version(client.get_model_version("iris", "2").id)
    for page, size in ((3, 1), (2, 2), (33842466253493, 1452), (10**15, 9000)):
        listed = client.list_model_versions("iris", page=page, size=size)
        assert list(listed) == [] and listed.total == 2, (page, size)
