"""``get_stage_history(after=, limit=)`` reads the history a page at a time, in order, never
splitting a log position; without them it is the whole history as before. The CLI's
``model history --after/--limit`` pages the same way.

Integration tests on both stores (the ``client`` fixture).
"""

from __future__ import annotations

import pytest

from modelplane.client import Client
from modelplane.exceptions import ValidationError
from modelplane.responses import StageChange


def _pages(client: Client, name: str, limit: int) -> list[list[StageChange]]:
    pages: list[list[StageChange]] = []
    after = None
    while True:
        page = client.get_stage_history(name, after=after, limit=limit)
        if not page:
            return pages
        pages.append(page)
        after = page[-1].position


def test_pages_walk_the_whole_history_in_order(client: Client) -> None:
    client.create_model("iris")
    for number in range(1, 6):
        client.create_model_version("iris")
        client.update_model_version("iris", number, stage="production", force=True)
    everything = client.get_stage_history("iris")
    assert len(everything) == 9  # 5 promotions, 4 of them archiving the holder
    pages = _pages(client, "iris", 2)
    assert [change for page in pages for change in page] == everything
    assert all(len(page) <= 2 for page in pages)
    later = client.get_stage_history("iris", after=everything[3].position)
    assert later == everything[4:]
    assert client.get_stage_history("iris", limit=3) == everything[:3]


def test_a_page_keeps_the_changes_of_one_position_together(client: Client) -> None:
    client.create_model("iris")
    client.create_model_version("iris")
    client.create_model_version("iris")
    client.update_model_version("iris", 1, stage="staging")
    client.update_model_version("iris", 2, stage="production")
    client.delete_model("iris")  # both holders leave at one position
    everything = client.get_stage_history("iris")
    assert everything[-1].position == everything[-2].position
    first = client.get_stage_history("iris", limit=3)
    assert first == everything  # the third row's position has a fourth: both come
    assert client.get_stage_history("iris", after=first[-1].position) == []
    assert _pages(client, "iris", 1) == [everything[:1], everything[1:2], everything[2:]]


def test_every_life_of_a_name_pages_together(client: Client) -> None:
    for _ in range(2):
        client.create_model("iris")
        client.create_model_version("iris")
        client.update_model_version("iris", 1, stage="production")
        client.delete_model("iris")
    everything = client.get_stage_history("iris")
    assert len({change.model_id for change in everything}) == 2
    assert [c for page in _pages(client, "iris", 1) for c in page] == everything


def test_bad_paging_arguments_are_refused(client: Client) -> None:
    client.create_model("iris")
    for bad in (0, -1, True, "3"):
        with pytest.raises(ValidationError):
            client.get_stage_history("iris", limit=bad)  # type: ignore[arg-type]
    for bad_after in (2**63, "x", 1.5):
        with pytest.raises(ValidationError):
            client.get_stage_history("iris", after=bad_after)  # type: ignore[arg-type]
