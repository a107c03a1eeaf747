"""What an MLflow client wrote, read back through modelplane's own SDK (remote, over /api/v1):
the same models, versions, tags and aliases, and what MLflow cannot answer: who moved the
alias and the stages, when, and which version held the alias before.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from mlflow import MlflowClient

from modelplane.backend.http import HttpBackend
from modelplane.client import Client
from tests.servers import RunningServer

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")  # MLflow's stage APIs

NAME = "read-back"
#: bookkeeping events (name indexes, a version's own copy of its stage) carry no actor
BOOKKEEPING = ("ModelName.", "VersionName.", "ModelVersion.StageSet")


@dataclass(frozen=True)
class Scenario:
    sdk: Client
    actor: str


@pytest.fixture(scope="module")
def scenario(mlflow_server: RunningServer, token: str, actor: str) -> Iterator[Scenario]:
    """MLflow's calls, once per server: a model with three versions, its champion alias set
    and moved, its versions through Staging and Production, and tags."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_TOKEN", token)
        mlflow = MlflowClient(tracking_uri=mlflow_server.url, registry_uri=mlflow_server.url)
        mlflow.create_registered_model(NAME, tags={"team": "vision"}, description="iris")
        for n in (1, 2, 3):
            mlflow.create_model_version(
                NAME, f"s3://models/iris/{n}", run_id=f"run-{n}", run_link=f"http://runs/{n}"
            )
        mlflow.set_model_version_tag(NAME, "2", "validated", "yes")
        mlflow.set_registered_model_alias(NAME, "champion", "1")
        mlflow.set_registered_model_alias(NAME, "champion", "2")
        mlflow.transition_model_version_stage(NAME, "1", "Staging")
        mlflow.transition_model_version_stage(NAME, "2", "Production")
        mlflow.transition_model_version_stage(
            NAME, "3", "Production", archive_existing_versions=True
        )
    sdk = Client(HttpBackend(mlflow_server.url, mlflow_server.admin_token))
    try:
        yield Scenario(sdk, actor)
    finally:
        sdk.backend.close()


def test_the_sdk_sees_what_mlflow_wrote(scenario: Scenario) -> None:
    sdk = scenario.sdk
    model = sdk.get_model(NAME)
    assert (model.description, model.key_value_tags, model.user) == (
        "iris",
        {"team": "vision"},
        scenario.actor,
    )
    assert model.aliases == {"champion": 2}
    second = sdk.get_model_version(NAME, 2)
    assert (second.source, second.run_id, second.run_link) == (
        "s3://models/iris/2",
        "run-2",
        "http://runs/2",
    )
    assert second.key_value_tags == {"validated": "yes"}
    assert second.aliases == ["champion"]
    assert [str(v.stage) for v in sdk.list_model_versions(NAME)] == [
        "production",
        "archived",
        "staging",
    ]


def test_the_stage_history_names_the_token_for_every_transition(scenario: Scenario) -> None:
    moves = [
        (change.version, str(change.previous_stage), str(change.stage), change.actor)
        for change in scenario.sdk.get_stage_history(NAME)
    ]
    who = scenario.actor
    assert moves == [
        ("1", "none", "staging", who),
        ("2", "none", "production", who),
        ("2", "production", "archived", who),  # archive_existing_versions: displaced by 3
        ("3", "none", "production", who),
    ]


def test_the_alias_history_says_who_moved_champion_and_from_where(scenario: Scenario) -> None:
    history = scenario.sdk.get_alias_history(NAME, "champion")
    assert [(c.previous_version_number, c.version_number, c.actor) for c in history] == [
        (None, 1, scenario.actor),
        (1, 2, scenario.actor),
    ]
    # which version held champion before it moved: time travel to the first set
    before = scenario.sdk.get_model_version_by_alias(NAME, "champion", at=history[0].position)
    assert before.number == 1
    assert scenario.sdk.get_model_version_by_alias(NAME, "champion").number == 2


def test_every_event_mlflow_caused_is_recorded_with_the_token_as_actor(scenario: Scenario) -> None:
    events = scenario.sdk.list_events(NAME, limit=1000)
    recorded = [e for e in events if not e.type.startswith(BOOKKEEPING)]
    assert len(recorded) >= 15
    assert {e.actor for e in recorded} == {scenario.actor}
    types = {e.type for e in recorded}
    assert {"Model.Registered", "Model.AliasSet", "Model.StageChanged"} <= types
