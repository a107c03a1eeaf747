"""One SDK call that changes several things is one command: all its events, or none.

Integration tests on both stores; "nothing appended" is checked against the raw log.
"""

from __future__ import annotations

import pytest

from modelplane.client import Client
from modelplane.enums import ModelStages
from modelplane.exceptions import EntityExistsError, StageOccupiedError, ValidationError
from tests.log_reading import event_count


def _two_versions_one_in_production(client: Client) -> None:
    client.create_model("iris")
    client.create_model_version("iris")
    client.create_model_version("iris", name="candidate", tags=["x"])
    client.update_model_version("iris", 1, stage="production")


def test_a_refused_promotion_keeps_the_rename_and_tags_from_happening(client: Client) -> None:
    _two_versions_one_in_production(client)
    before = event_count(client)
    with pytest.raises(StageOccupiedError):
        client.update_model_version(
            "iris",
            "candidate",
            name="renamed",
            description="better",
            add_tags=["y"],
            stage=ModelStages.PRODUCTION,
        )
    assert event_count(client) == before
    kept = client.get_model_version("iris", 2)
    assert (kept.name, kept.description, kept.tags, kept.stage) == (
        "candidate",
        None,
        ["x"],
        ModelStages.NONE,
    )
    # the same call with force does all of it, in one transaction
    done = client.update_model_version(
        "iris", "candidate", name="renamed", add_tags=["y"], stage="production", force=True
    )
    assert (done.name, done.tags, done.stage) == ("renamed", ["x", "y"], ModelStages.PRODUCTION)
    new = client.list_events(after=before)
    assert len({e.timestamp for e in new}) == 1, "one transaction"
    assert client.get_stage_history("iris")[-1].version == "renamed"


def test_a_taken_name_refuses_the_promotion_too(client: Client) -> None:
    _two_versions_one_in_production(client)
    client.create_model_version("iris", name="taken")
    before = event_count(client)
    with pytest.raises(EntityExistsError):
        client.update_model_version("iris", "candidate", name="taken", stage="staging")
    assert event_count(client) == before
    assert client.get_model_version("iris", "candidate").stage == ModelStages.NONE


def test_a_bad_stage_refuses_everything(client: Client) -> None:
    _two_versions_one_in_production(client)
    before = event_count(client)
    with pytest.raises(ValidationError):
        client.update_model_version("iris", "candidate", name="renamed", stage="latest")
    with pytest.raises(ValidationError):
        client.update_model_version("iris", "candidate", description="d", stage="prod")
    assert event_count(client) == before


def test_the_displaced_holder_and_the_promotion_name_the_new_name(client: Client) -> None:
    _two_versions_one_in_production(client)
    client.update_model_version(
        "iris", "candidate", name="v2", stage="production", force=True, reason="better"
    )
    archive, promote = client.get_stage_history("iris")[-2:]
    assert archive.reason == "displaced from production by version 'v2': better"
    assert (promote.version, promote.displaced_version) == ("v2", "1")
