"""What the SDK promises, checked through each backend (see ``conftest.py``): the same calls
give the same answers and raise the same exception types locally and through a server."""

from __future__ import annotations

from typing import Annotated

import pytest

from modelplane import Model, log_metadata, pipeline, step
from modelplane.artifacts.artifact_config import ArtifactConfig
from modelplane.artifacts.utils import load_artifact, save_artifact
from modelplane.client import Client
from modelplane.enums import ModelStages
from modelplane.exceptions import (
    EntityExistsError,
    NotFoundError,
    PreconditionFailedError,
    StageOccupiedError,
    ValidationError,
)
from tests.contract.conftest import Target


def test_models_round_trip(sdk: Target, unique: str) -> None:
    client = Client()
    assert type(client.backend).__name__ == ("HttpBackend" if sdk.remote else "LocalBackend")
    created = client.create_model(unique, license="MIT", tags=["a", "b"], description="<b>x</b>")
    assert created.name == unique and created.license == "MIT"
    assert sorted(created.tags) == ["a", "b"]
    assert created.user == sdk.actor
    assert client.get_model(unique).id == created.id
    assert client.get_model(created.id).name == unique
    updated = client.update_model(unique, description="better", add_tags=["c"], remove_tags=["a"])
    assert updated.description == "better" and sorted(updated.tags) == ["b", "c"]
    assert any(m.id == created.id for m in client.list_models(name=unique))
    assert [m.name for m in client.list_models(tag="c", name=unique)] == [unique]
    client.delete_model(unique, reason="done")
    with pytest.raises(NotFoundError):
        client.get_model(unique)


def test_model_errors_keep_their_types(sdk: Target, unique: str) -> None:
    client = Client()
    client.create_model(unique)
    with pytest.raises(EntityExistsError, match=unique):
        client.create_model(unique)
    with pytest.raises(NotFoundError) as missing:
        client.get_model(unique + "-nope")
    assert isinstance(missing.value, KeyError)  # what ZenML code catches
    with pytest.raises(ValidationError):
        client.create_model("bad/name")
    with pytest.raises(ValidationError):
        client.create_model("x" * 100_000)
    with pytest.raises(ValidationError):
        client.list_models(page=0)


def test_versions_and_stages(sdk: Target, unique: str) -> None:
    client = Client()
    client.create_model(unique)
    first = client.create_model_version(unique)
    named = client.create_model_version(unique, name="1.2.3", tags=["rc"])
    assert (first.number, first.name, named.number, named.name) == (1, "1", 2, "1.2.3")
    assert client.get_model_version(unique, 2).id == named.id
    assert client.get_model_version(unique, "1.2.3").id == named.id
    assert client.get_model_version(unique).id == named.id  # latest
    assert client.get_model_version(unique, named.id).name == "1.2.3"

    Model(name=unique, version="1").set_stage(ModelStages.PRODUCTION, reason="first")
    with pytest.raises(StageOccupiedError) as occupied:
        client.update_model_version(unique, "1.2.3", stage=ModelStages.PRODUCTION)
    assert occupied.value.stage == "production" and occupied.value.holder == "1"
    assert isinstance(occupied.value, RuntimeError)
    promoted = client.update_model_version(
        unique, "1.2.3", stage="production", force=True, reason="better"
    )
    assert promoted.stage is ModelStages.PRODUCTION
    assert client.get_model_version(unique, ModelStages.PRODUCTION).id == named.id
    assert client.get_model_version(unique, "1").stage is ModelStages.ARCHIVED
    assert [v.name for v in client.list_model_versions(unique, stage="archived")] == ["1"]
    assert [v.name for v in client.list_model_versions(unique, tag="rc")] == ["1.2.3"]

    history = client.get_stage_history(unique)
    assert [(h.version, h.previous_stage, h.stage) for h in history] == [
        ("1", ModelStages.NONE, ModelStages.PRODUCTION),
        ("1", ModelStages.PRODUCTION, ModelStages.ARCHIVED),
        ("1.2.3", ModelStages.NONE, ModelStages.PRODUCTION),
    ]
    assert {h.actor for h in history} == {sdk.actor}
    assert history[-1].reason == "better"

    # time travel: as of the first promotion, "1" held production
    then = client.get_model_version(unique, ModelStages.PRODUCTION, at=history[0].position)
    assert then.name == "1" and then.stage is ModelStages.PRODUCTION and then.as_of is not None
    then_by_time = client.get_model_version(unique, "1", at=history[0].timestamp)
    assert then_by_time.stage is ModelStages.PRODUCTION

    client.delete_model_version(first.id, reason="gone")
    with pytest.raises(NotFoundError):
        client.get_model_version(unique, "1")


def test_paging_and_cursor(sdk: Target, unique: str) -> None:
    client = Client()
    client.create_model(unique)
    for _ in range(5):
        client.create_model_version(unique)
    first = client.list_model_versions(unique, size=2)
    assert [v.number for v in first] == [5, 4] and first.total == 5 and first.total_pages == 3
    second = client.list_model_versions(unique, size=2, cursor=first.next_cursor)
    assert [v.number for v in second] == [3, 2]
    assert [v.number for v in client.list_model_versions(unique, size=2, page=3)] == [1]
    with pytest.raises(ValidationError):
        client.list_model_versions(unique, cursor="not-a-cursor")


def test_metadata_and_events(sdk: Target, unique: str) -> None:
    client = Client()
    client.create_model(unique)
    client.create_model_version(unique)
    log_metadata(
        {"accuracy": 0.9, "nested": {"k": [1, "two"]}}, model_name=unique, model_version="1"
    )
    log_metadata({"accuracy": 0.95}, model_name=unique, model_version="1")
    version = client.get_model_version(unique, "1")
    assert version.run_metadata["accuracy"].value == 0.95
    assert [e.value for e in version.run_metadata["accuracy"].history] == [0.9, 0.95]
    assert version.run_metadata["nested"].value == {"k": [1, "two"]}
    assert version.run_metadata["accuracy"].history[-1].actor == sdk.actor
    with pytest.raises(ValidationError):
        log_metadata({}, model_name=unique, model_version="1")
    # integers past 64 bits are kept exactly, also through JSON on the wire
    exact = {"big": 2**70, "small": -(2**80), "edge": 2**64 - 1, "tag": "1" * 25}
    log_metadata({"exact": exact}, model_name=unique, model_version="1")
    got = client.get_model_version(unique, "1").run_metadata["exact"].value
    assert got == exact and all(type(got[k]) is type(exact[k]) for k in exact)

    events = client.list_events(model=unique)
    types = [e.type for e in events]
    assert types[0] == "Model.Registered" and "ModelVersion.MetadataLogged" in types
    assert all(e.model_id == version.model_id for e in events if e.model_id is not None)
    after = client.list_events(model=unique, after=events[0].position, limit=1)
    assert [e.position for e in after] == [events[1].position]


def test_artifacts_outside_a_pipeline(sdk: Target, unique: str) -> None:
    client = Client()
    client.create_model(unique)
    client.create_model_version(unique)
    saved = save_artifact(
        f"{unique}-data", {"rows": [1, 2, 3]}, model=Model(name=unique, version="1")
    )
    assert saved.number == 1 and saved.size_bytes > 0
    assert load_artifact(f"{unique}-data") == {"rows": [1, 2, 3]}
    assert client.get_artifact_version(saved.id).load() == {"rows": [1, 2, 3]}
    version = client.get_model_version(unique, "1")
    assert version.get_artifact(f"{unique}-data").id == saved.id  # type: ignore[union-attr]
    assert version.data_artifacts[f"{unique}-data"]["1"].content_hash == saved.content_hash
    again = save_artifact(f"{unique}-data", {"rows": [1, 2, 3]})
    assert again.number == 2 and again.content_hash == saved.content_hash
    log_metadata({"rows": 3}, artifact_name=f"{unique}-data", artifact_version="2")
    assert client.get_artifact_version(f"{unique}-data", 2).run_metadata["rows"].value == 3


def test_pipeline_with_model_and_artifacts(sdk: Target, unique: str) -> None:
    @step
    def load() -> Annotated[dict[str, list[int]], "raw"]:
        return {"x": [1, 2, 3]}

    @step
    def train(
        raw: dict[str, list[int]],
    ) -> Annotated[dict[str, float], ArtifactConfig(name="weights", is_model_artifact=True)]:
        log_metadata({"loss": 0.1}, infer_model=True)
        return {"w": float(sum(raw["x"]))}

    @pipeline(model=Model(name=unique, tags=["p"]))
    def training() -> None:
        train(load())

    training()
    training()
    client = Client()
    versions = client.list_model_versions(unique)
    assert [v.number for v in versions] == [2, 1]
    latest = client.get_model_version(unique)
    assert latest.get_model_artifact("weights").load() == {"w": 6.0}  # type: ignore[union-attr]
    assert latest.run_metadata["loss"].value == 0.1
    runs = client.list_pipeline_runs(model=unique)
    assert len(runs) == 2 and {r.status for r in runs} == {"completed"}
    run = runs[0]
    assert set(run.steps) == {"load", "train"}
    assert run.user == sdk.actor
    raw = client.get_artifact_version(run.steps["load"].outputs["raw"])
    assert [c.step for c in raw.consumers] == ["train"]
    assert raw.producer_run is not None and raw.producer_run.id == run.id
    assert run.model_version is not None and run.model_version.id == latest.id


def test_failed_step_is_recorded(sdk: Target, unique: str) -> None:
    @step
    def boom() -> int:
        raise ZeroDivisionError("no")

    @pipeline(model=Model(name=unique))
    def failing() -> None:
        boom()

    with pytest.raises(ZeroDivisionError):
        failing()
    run = Client().list_pipeline_runs(model=unique)[0]
    assert run.status == "failed" and "ZeroDivisionError" in (run.error or "")


def test_tokens_and_actor(sdk: Target, unique: str) -> None:
    client = Client()
    created = client.backend.create_token(unique, "write")
    assert created.token.startswith("mp_") and created.role == "write"
    listed = {t.name: t for t in client.backend.list_tokens()}
    assert listed[unique].role == "write" and listed[unique].revoked is None
    with pytest.raises(EntityExistsError):
        client.backend.create_token(unique, "read")
    with pytest.raises(ValidationError):
        client.backend.create_token(unique + "x", "root")
    client.backend.revoke_token(unique)
    assert {t.name: t for t in client.backend.list_tokens()}[unique].revoked is not None
    with pytest.raises(NotFoundError):
        client.backend.revoke_token(unique)
    assert client.backend.actor == sdk.actor


def test_conditional_promotion(sdk: Target, unique: str) -> None:
    client = Client()
    client.create_model(unique)
    one = client.create_model_version(unique)
    client.create_model_version(unique, name="rc")
    client.update_model_version(unique, "1", stage="production", expected_holder="none")

    def log_size() -> int:
        return len(client.list_events(model=unique, limit=1000))

    before = log_size()
    with pytest.raises(PreconditionFailedError) as stale:
        client.update_model_version(
            unique, "rc", stage="production", force=True, expected_holder="none"
        )
    error = stale.value
    assert type(error) is PreconditionFailedError  # the same class through a server
    assert (error.stage, error.holder, error.expected) == ("production", "1", "none")
    assert "held by version '1'" in str(error)
    with pytest.raises(PreconditionFailedError, match="is empty"):
        Model(name=unique, version="rc").set_stage("staging", expected_holder=one.id)
    with pytest.raises(StageOccupiedError):  # a matching holder still needs force
        client.update_model_version(unique, "rc", stage="production", expected_holder=1)
    with pytest.raises(ValidationError):
        client.update_model_version(unique, "rc", stage="archived", expected_holder="1")
    assert log_size() == before  # nothing appended by any refusal
    assert client.get_model_version(unique, "production").name == "1"

    promoted = client.update_model_version(
        unique, "rc", stage="production", force=True, expected_holder=one.id
    )
    assert promoted.stage is ModelStages.PRODUCTION
    Model(name=unique, version="1").set_stage("staging", expected_holder="none")
    assert [(h.version, h.stage) for h in client.get_stage_history(unique)][-3:] == [
        ("1", ModelStages.ARCHIVED),
        ("rc", ModelStages.PRODUCTION),
        ("1", ModelStages.STAGING),
    ]
