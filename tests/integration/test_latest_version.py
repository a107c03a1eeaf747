"""The latest version kept on the model's row: it follows creations and deletions (the next
highest live number takes over), renames show through, and ``latest`` at an earlier position
is the highest number alive then.

Integration tests on both stores (the ``client`` fixture).
"""

from __future__ import annotations

import pytest

from modelplane.client import Client
from modelplane.exceptions import NotFoundError
from tests.conftest import store_of


def _latest(client: Client, name: str) -> tuple[str | None, str | None]:
    listed = {m.name: m.latest_version_name for m in client.list_models()}
    return client.get_model(name).latest_version_name, listed[name]


def test_deleting_the_latest_hands_over_to_the_next_highest(client: Client) -> None:
    client.create_model("iris")
    assert _latest(client, "iris") == (None, None)
    for _ in range(4):
        client.create_model_version("iris")
    assert _latest(client, "iris") == ("4", "4")
    client.delete_model_version(client.get_model_version("iris", "3").id)
    assert _latest(client, "iris") == ("4", "4")
    client.delete_model_version(client.get_model_version("iris").id)
    assert _latest(client, "iris") == ("2", "2")
    assert client.get_model_version("iris").number == 2
    client.update_model_version("iris", 2, name="two")
    assert _latest(client, "iris") == ("two", "two")
    client.create_model_version("iris")
    assert _latest(client, "iris") == ("5", "5")  # numbers are never reused
    for number in ("5", "two", "1"):
        client.delete_model_version(client.get_model_version("iris", number).id)
    assert _latest(client, "iris") == (None, None)
    with pytest.raises(NotFoundError, match="no versions"):
        client.get_model_version("iris")


def test_latest_survives_a_rebuild_and_a_deleted_model_has_none(client: Client) -> None:
    client.create_model("iris")
    for _ in range(3):
        client.create_model_version("iris")
    client.delete_model_version(client.get_model_version("iris").id)
    client.rebuild_projections()
    assert _latest(client, "iris") == ("2", "2")
    model_id = client.get_model("iris").id
    client.delete_model("iris")
    from modelplane.projections.queries.models import model_row

    with store_of(client).read() as conn:
        assert model_row(conn, model_id, deleted_ok=True)["latest_version_name"] is None


def test_latest_at_an_early_position_is_the_highest_number_alive_then(client: Client) -> None:
    client.create_model("iris")
    client.create_model_version("iris")
    client.create_model_version("iris")
    early = client.list_events(limit=10**6)[-1].position  # 1 and 2 exist
    for _ in range(5):
        client.create_model_version("iris")
    assert client.get_model_version("iris", None, at=early).number == 2
    client.delete_model_version(client.get_model_version("iris", "2").id)
    after_delete = client.list_events(limit=10**6)[-1].position
    assert client.get_model_version("iris", None, at=early).number == 2
    client.delete_model_version(client.get_model_version("iris", "7").id)
    assert client.get_model_version("iris", None, at=after_delete).number == 7
    assert client.get_model_version("iris", None).number == 6
    # created before that position but deleted by then: passed over
    after_second = client.list_events(limit=10**6)[-1].position
    assert client.get_model_version("iris", None, at=after_second).number == 6
    # at the deletion of 2, the newest alive up to then was 7; before anything, nothing
    first_version = client.list_events(limit=10**6)[0].position
    with pytest.raises(NotFoundError):
        client.get_model_version("iris", None, at=first_version)
