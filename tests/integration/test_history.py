"""The history tells the whole story: deletions of stage holders, a model's runs in its feed.

Integration tests on both stores; each also checks that a rebuild from the log gives the same.
"""

from __future__ import annotations

from modelplane import Model, pipeline, step
from modelplane.client import Client
from modelplane.enums import ModelStages


def _history(client: Client) -> list[tuple[str, str, str, str | None]]:
    return [
        (c.version, c.previous_stage, c.stage, c.reason) for c in client.get_stage_history("iris")
    ]


def test_a_deleted_holder_leaves_its_stage_in_the_history(client: Client) -> None:
    client.create_model("iris")
    v1 = client.create_model_version("iris")
    client.update_model_version("iris", 1, stage="production")
    client.delete_model_version(v1.id, reason="leaked training data")
    last = client.get_stage_history("iris")[-1]
    assert (last.version, last.previous_stage, last.stage) == ("1", "production", "deleted")
    assert (last.actor, last.reason) == ("tester", "leaked training data")
    client.rebuild_projections()
    assert client.get_stage_history("iris")[-1] == last


def test_a_deleted_model_releases_every_holder(client: Client) -> None:
    client.create_model("iris")
    client.create_model_version("iris")
    client.create_model_version("iris")
    client.create_model_version("iris")
    client.update_model_version("iris", 1, stage="production")
    client.update_model_version("iris", 2, stage="staging")
    client.update_model_version("iris", 3, stage="archived")
    client.delete_model("iris", reason="retired")
    tail = _history(client)[-2:]
    assert sorted(tail) == [
        ("1", ModelStages.PRODUCTION, "deleted", "retired"),
        ("2", ModelStages.STAGING, "deleted", "retired"),
    ]
    before = client.get_stage_history("iris")
    client.rebuild_projections()
    assert client.get_stage_history("iris") == before


def test_a_version_without_an_exclusive_stage_adds_no_history(client: Client) -> None:
    client.create_model("iris")
    v1 = client.create_model_version("iris")
    client.delete_model_version(v1.id)
    assert client.get_stage_history("iris") == []


@step
def make_number() -> int:
    return 41


@step
def add_one(value: int) -> int:
    return value + 1


@pipeline(model=Model(name="iris"))
def training() -> None:
    add_one(make_number())


def test_a_models_feed_includes_its_runs_steps_outputs_and_end(client: Client) -> None:
    client.create_model("other")
    run = training()
    types = [e.type for e in client.list_events(model="iris")]
    assert "PipelineRun.Started" in types
    assert types.count("PipelineRun.StepFinished") == 2
    assert types[-1] == "PipelineRun.Finished"
    assert "Artifact.VersionRecorded" in types
    assert all(e.type != "Model.Registered" or e.model_id for e in client.list_events())
    assert "other" not in str([e.payload for e in client.list_events(model="iris")])
    assert run.status == "completed"


def test_a_models_feed_includes_artifacts_linked_outside_a_run(client: Client) -> None:
    from modelplane import log_metadata
    from modelplane.artifacts.utils import save_artifact

    client.create_model("iris")
    client.create_model_version("iris")
    save_artifact("unrelated", {"x": 0})
    save_artifact("features", {"x": 1}, model=Model(name="iris", version=1))
    log_metadata({"rows": 1}, artifact_name="features")
    types = [e.type for e in client.list_events(model="iris")]
    assert types[-3:] == [
        "Artifact.VersionRecorded",
        "ModelVersion.ArtifactLinked",
        "Artifact.MetadataLogged",
    ]
    names = [e.payload.get("name") for e in client.list_events(model="iris")]
    assert "unrelated" not in names
