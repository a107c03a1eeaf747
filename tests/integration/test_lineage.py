"""Artifacts, links to model versions, runs and lineage, through the SDK on both stores.

One behaviour per test; the state a group of tests starts from is a fixture (SDK writes,
fresh for each test). The CLI's lineage commands read one store written once per module
(``module_store``), since each CLI process costs half a second.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from modelplane import Model, log_metadata
from modelplane.artifacts.utils import link_artifact_to_model, load_artifact, save_artifact
from modelplane.client import Client
from modelplane.exceptions import EntityDeletedError, NotFoundError, ValidationError
from modelplane.responses import ArtifactVersionResponse
from tests.conftest import SharedStore, store_of
from tests.log_reading import log_head
from tests.projection_tables import dump_tables


@pytest.fixture
def agent_configs(
    client: Client,
) -> tuple[ArtifactVersionResponse, ArtifactVersionResponse]:
    """Two versions of ``agent_config``, saved outside any step (the second tagged v2)."""
    first = save_artifact("agent_config", {"tools": ["search"], "temperature": 0.7})
    second = save_artifact("agent_config", {"tools": ["search", "escalation"]}, tags=["v2"])
    return first, second


def test_save_and_load_artifacts_outside_a_step(
    client: Client, agent_configs: tuple[ArtifactVersionResponse, ArtifactVersionResponse]
) -> None:
    first, second = agent_configs
    assert (first.name, first.number, first.version) == ("agent_config", 1, "1")
    assert second.number == 2 and second.tags == ["v2"] and second.producer_run_id is None
    assert load_artifact("agent_config") == {"tools": ["search", "escalation"]}
    assert load_artifact("agent_config", 1) == {"tools": ["search"], "temperature": 0.7}
    assert client.get_artifact_version("agent_config").id == second.id
    assert client.get_artifact_version("agent_config", "1").load() == first.load()
    assert client.get_artifact_version(second.id).number == 2
    assert [v.number for v in client.list_artifact_versions(name="agent_config")] == [2, 1]


@pytest.mark.usefixtures("agent_configs")
def test_an_artifact_or_version_that_does_not_exist_is_not_found(client: Client) -> None:
    with pytest.raises(NotFoundError):
        load_artifact("no_such_artifact")
    with pytest.raises(NotFoundError):
        client.get_artifact_version("agent_config", 3)


@pytest.fixture
def linked_by_kind(client: Client) -> Model:
    """``CustomerServiceAgent`` 2.1.0 (its handle returned): three prompt templates (model
    artifacts), an eval table (data), a fitted estimator (model by default), an endpoint
    (deployment)."""
    from sklearn.linear_model import LogisticRegression

    client.create_model("CustomerServiceAgent")
    client.create_model_version("CustomerServiceAgent", name="2.1.0")
    model = Model(name="CustomerServiceAgent", version="2.1.0")
    for variant in ["concise", "detailed", "empathetic"]:
        save_artifact(
            f"prompt_template_{variant}", f"You are {variant}.", is_model_artifact=True, model=model
        )
    save_artifact("eval_table", {"acc": 0.9}, model=model)
    clf = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    save_artifact("trained_model", clf, model=model)  # estimators are model artifacts by default
    save_artifact(
        "endpoint", {"url": "http://127.0.0.1:8000"}, is_deployment_artifact=True, model=model
    )
    return model


@pytest.mark.usefixtures("linked_by_kind")
def test_a_version_lists_its_artifacts_by_kind(client: Client) -> None:
    mv = client.get_model_version("CustomerServiceAgent", "2.1.0")
    assert sorted(mv.model_artifacts) == [
        "prompt_template_concise",
        "prompt_template_detailed",
        "prompt_template_empathetic",
        "trained_model",
    ]
    assert list(mv.data_artifacts) == ["eval_table"]
    assert list(mv.deployment_artifacts) == ["endpoint"]
    assert mv.model_artifacts["prompt_template_concise"]["1"].load() == "You are concise."
    assert mv.get_data_artifact("eval_table") is not None
    assert mv.get_data_artifact("trained_model") is None
    loaded = mv.get_model_artifact("trained_model")
    assert loaded is not None and list(loaded.load().predict([[0.0], [3.0]])) == [0, 1]


def test_a_model_handle_gets_and_loads_linked_artifacts(linked_by_kind: Model) -> None:
    model = linked_by_kind
    assert model.get_artifact("endpoint") is not None
    assert model.load_artifact("eval_table") == {"acc": 0.9}
    assert model.get_deployment_artifact("nope") is None
    with pytest.raises(NotFoundError, match="nope"):
        model.load_artifact("nope")


@dataclass
class Linked:
    """Model ``iris`` version 1 with artifact ``dataset`` version 1 linked to it."""

    version: Any
    data: ArtifactVersionResponse


@pytest.fixture
def linked(client: Client) -> Linked:
    client.create_model("iris")
    v1 = client.create_model_version("iris")
    data = save_artifact("dataset", [1, 2, 3])
    link_artifact_to_model(data, model=Model(name="iris", version="1"))
    return Linked(v1, data)


def test_linking_the_same_version_again_appends_nothing(client: Client, linked: Linked) -> None:
    head = log_head(client)
    link_artifact_to_model(linked.data, model=Model(name="iris", version="1"))
    assert log_head(client) == head, "linking the same version twice appends nothing"


def test_a_link_needs_a_model(client: Client, linked: Linked) -> None:
    head = log_head(client)
    with pytest.raises(ValidationError):
        link_artifact_to_model(linked.data)
    assert log_head(client) == head


def test_a_deleted_version_refuses_links_and_new_linked_artifacts(
    client: Client, linked: Linked
) -> None:
    v1, data = linked.version, linked.data
    client.delete_model_version(v1.id)
    registry = store_of(client).registry
    with pytest.raises(EntityDeletedError):
        registry.link_artifact(
            v1.id, "dataset", data.id, artifact_version_number=1, kind="data", actor="x"
        )
    before = log_head(client)
    with pytest.raises(EntityDeletedError):
        registry.record_artifact_version(
            "dataset", stored=client.artifact_store.save([4]), link_to=v1.id, actor="x"
        )
    assert log_head(client) == before, "no artifact version without its link"
    assert client.get_artifact_version("dataset").number == 1


def test_artifact_metadata_keeps_its_history(client: Client) -> None:
    saved = save_artifact("scores", [0.1, 0.2])
    log_metadata({"rows": 2}, artifact_name="scores")
    log_metadata({"rows": 3}, artifact_name="scores", artifact_version=1)
    metadata = client.get_artifact_version("scores").run_metadata
    assert metadata["rows"].value == 3 and [e.value for e in metadata["rows"].history] == [2, 3]
    assert saved.id == client.get_artifact_version("scores").id


def test_run_metadata_by_run_id(client: Client) -> None:
    run = store_of(client).registry.start_run("run-1", pipeline="p", actor="tester")
    log_metadata({"gpu": False}, run_id_name_or_prefix=str(run.id))
    assert client.get_pipeline_run("run-1").run_metadata["gpu"].value is False


def _training_run(client: Client, model: str) -> Any:
    """A run that created a version and produced two artifacts, written through the domain."""
    registry = store_of(client).registry
    version = client.create_model_version(model)
    run = registry.start_run(
        f"training-{version.number}",
        pipeline="training",
        model_version_id=version.id,
        model_version_how="created",
        parameters={"n_estimators": 20},
        actor="tester",
    )
    data = registry.record_artifact_version(
        "train_data",
        stored=client.artifact_store.save([1, 2, 3]),
        run_id=run.id,
        step="load",
        link_to=version.id,
        actor="tester",
    )
    registry.finish_step(run.id, "load", inputs={}, outputs={"train_data": data.id}, duration_ms=3)
    trained = registry.record_artifact_version(
        "trained_model",
        stored=client.artifact_store.save({"weights": [1, 2]}),
        run_id=run.id,
        step="train",
        link_to=version.id,
        link_kind="model",
        actor="tester",
    )
    registry.finish_step(
        run.id, "train", inputs={"data": data.id}, outputs={"output": trained.id}, duration_ms=5
    )
    registry.finish_run(run.id, status="completed", actor="tester")
    return version, run, trained


@dataclass
class Runs:
    """Model ``iris``: a completed training run that created version 1 (in production) and
    produced ``train_data`` and ``trained_model``; a failed inference run that consumed the
    trained model (the production holder's); a running run that consumed it too."""

    version: Any
    training: Any
    trained: Any
    inference: Any
    stale: Any


@pytest.fixture
def runs(client: Client) -> Runs:
    client.create_model("iris")
    version, training, trained = _training_run(client, "iris")
    client.update_model_version("iris", version.number, stage="production")
    registry = store_of(client).registry
    inference = registry.start_run(
        "inference-1",
        pipeline="inference",
        model_version_id=version.id,
        model_version_how="stage",
        stage="production",
        actor="tester",
    )
    registry.finish_step(
        inference.id,
        "predict",
        inputs={"model": trained.id},
        outputs={},
        duration_ms=2,
        error="ValueError: bad input",
    )
    registry.finish_run(inference.id, status="failed", error="ValueError: bad input", actor="t")
    stale = registry.start_run("stale-1", pipeline="training", actor="tester")
    registry.finish_step(stale.id, "audit", inputs={"m": trained.id}, outputs={}, duration_ms=1)
    return Runs(version, training, trained, inference, stale)


def test_a_run_records_its_steps_parameters_and_version(client: Client, runs: Runs) -> None:
    run = client.get_pipeline_run(runs.training.id)
    assert (run.status, run.model_version_how, run.parameters) == (
        "completed",
        "created",
        {"n_estimators": 20},
    )
    assert list(run.steps) == ["load", "train"]
    assert run.steps["train"].inputs["data"] == client.get_artifact_version("train_data").id
    assert run.model_version is not None and run.model_version.id == runs.version.id


@pytest.mark.usefixtures("runs")
def test_a_failed_run_keeps_its_error_and_how_it_chose_its_version(client: Client) -> None:
    failed = client.get_pipeline_run("inference-1")
    assert failed.status == "failed" and failed.error == "ValueError: bad input"
    assert failed.stage == "production" and failed.model_version_how == "stage"


@pytest.mark.usefixtures("runs")
def test_a_version_knows_the_runs_that_produced_and_consumed_it(client: Client) -> None:
    mv = client.get_model_version("iris", "production")
    assert [r.name for r in mv.producing_runs] == ["training-1"]
    assert [r.name for r in mv.consuming_runs] == ["inference-1", "stale-1"]
    assert sorted(mv.pipeline_runs) == ["inference-1", "training-1"]


def test_an_artifact_knows_its_producer_and_consumers(client: Client, runs: Runs) -> None:
    produced = client.get_artifact_version("trained_model")
    assert produced.producer_run_id == runs.training.id and produced.producer_step == "train"
    assert [(c.run_id, c.step, c.input_name) for c in produced.consumers] == [
        (runs.inference.id, "predict", "model"),
        (runs.stale.id, "audit", "m"),
    ]


@pytest.mark.usefixtures("runs")
def test_runs_listed_by_model_and_status(client: Client) -> None:
    assert [r.name for r in client.list_pipeline_runs(model="iris")] == [
        "inference-1",
        "training-1",
    ]
    assert [r.name for r in client.list_pipeline_runs(status="running")] == ["stale-1"]


def test_a_silent_running_run_is_stale_and_can_be_ended_once(client: Client, runs: Runs) -> None:
    registry = store_of(client).registry
    stale, training = runs.stale, runs.training
    assert not client.get_pipeline_run("stale-1").stale, "fresh: it finished a step just now"
    os.environ["MODELPLANE_STALE_RUN_SECONDS"] = "0"
    try:
        assert client.get_pipeline_run("stale-1").stale
        assert not client.get_pipeline_run(training.id).stale, "an ended run is never stale"
    finally:
        del os.environ["MODELPLANE_STALE_RUN_SECONDS"]
    registry.finish_run(stale.id, status="failed", error="marked failed: stale", actor="tester")
    assert client.get_pipeline_run("stale-1").status == "failed"
    with pytest.raises(ValidationError, match="already ended"):
        registry.finish_run(stale.id, status="completed", actor="tester")


@pytest.mark.usefixtures("runs")
def test_lineage_rebuilds_the_same_and_is_in_the_models_log(client: Client) -> None:
    with store_of(client).engine.connect() as conn:
        live = dump_tables(conn)
    client.rebuild_projections()
    with store_of(client).engine.connect() as conn:
        assert dump_tables(conn) == live
    # lineage events belong to the model's log too
    types = {e.type for e in client.list_events(model="iris", limit=1000)}
    assert {"PipelineRun.Started", "ModelVersion.ArtifactLinked"} <= types


CLI = str(Path(sys.executable).parent / "modelplane")


def _cli(*args: str, stale_seconds: str | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, COLUMNS="200")
    if stale_seconds is not None:
        env["MODELPLANE_STALE_RUN_SECONDS"] = stale_seconds
    return subprocess.run(
        [CLI, *args], env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )


def _cli_json(*args: str) -> Any:
    done = _cli(*args, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def trained_once(module_store: SharedStore) -> tuple[Any, Any]:
    """One training run on a store shared by the CLI tests below (which only read): the
    version it created and the run."""
    with module_store.active():
        client = Client()
        client.create_model("iris")
        version, training, _ = _training_run(client, "iris")
    return version, training


@pytest.fixture
def trained(module_store: SharedStore, trained_once: tuple[Any, Any]) -> Iterator[tuple[Any, Any]]:
    with module_store.active():
        yield trained_once


def test_cli_lists_a_versions_artifacts_by_kind(trained: tuple[Any, Any]) -> None:
    version, _ = trained
    assert version.number == 1
    linked = _cli_json("model", "version", "artifacts", "iris", "1")
    assert sorted((a["name"], a["link_kind"]) for a in linked) == [
        ("train_data", "data"),
        ("trained_model", "model"),
    ]
    only_models = _cli_json("model", "version", "artifacts", "iris", "1", "--kind", "model")
    assert [a["name"] for a in only_models] == ["trained_model"]


def test_cli_refuses_an_unknown_link_kind(trained: tuple[Any, Any]) -> None:
    bad = _cli("model", "version", "artifacts", "iris", "1", "--kind", "weights")
    assert bad.returncode == 1 and "Traceback" not in bad.stderr


def test_cli_shows_the_runs_of_a_version(trained: tuple[Any, Any]) -> None:
    roles = _cli_json("model", "version", "runs", "iris", "1")
    assert [r["name"] for r in roles["producing"]] == ["training-1"] and roles["consuming"] == []


def test_cli_describes_and_lists_runs(trained: tuple[Any, Any]) -> None:
    _, training = trained
    described = _cli_json("run", "describe", str(training.id))
    assert described["status"] == "completed" and list(described["steps"]) == ["load", "train"]
    listed = _cli_json("run", "list", "--model", "iris")
    assert [r["name"] for r in listed["items"]] == ["training-1"]


def test_cli_describes_an_artifact_with_its_producer(trained: tuple[Any, Any]) -> None:
    artifact = _cli_json("artifact", "describe", "trained_model")
    assert artifact["producer_step"] == "train" and artifact["consumers"] == []


def test_cli_marks_a_stale_run_failed_once(client: Client) -> None:
    stale = store_of(client).registry.start_run("stale", pipeline="p", actor="t")
    # silent for longer than 0 seconds: stale
    marked = _cli("run", "mark-failed", str(stale.id), "--reason", "host died", stale_seconds="0")
    assert marked.returncode == 0, marked.stderr
    assert client.get_pipeline_run(stale.id).error == "host died"
    again = _cli("run", "mark-failed", str(stale.id), stale_seconds="0")
    assert (
        again.returncode == 1
        and again.stderr.startswith("Error:")
        and "Traceback" not in again.stderr
    )


def test_time_travel_covers_metadata_and_links(client: Client) -> None:
    client.create_model("iris")
    client.create_model_version("iris")
    model = Model(name="iris", version="1")
    log_metadata({"accuracy": 0.8}, model_name="iris", model_version="1")
    save_artifact("weights", [1, 2], is_model_artifact=True, model=model)
    then = log_head(client)
    log_metadata({"accuracy": 0.9}, model_name="iris", model_version="1")
    save_artifact("weights", [3, 4], is_model_artifact=True, model=model)
    save_artifact("report", {"ok": True}, model=model)

    now = client.get_model_version("iris", "1")
    past = client.get_model_version("iris", "1", at=then)
    assert now.run_metadata["accuracy"].value == 0.9
    assert past.run_metadata["accuracy"].value == 0.8
    assert [e.value for e in past.run_metadata["accuracy"].history] == [0.8]
    assert sorted(now.model_artifacts["weights"]) == ["1", "2"] and "report" in now.data_artifacts
    assert sorted(past.model_artifacts["weights"]) == ["1"] and past.data_artifacts == {}
    assert past.get_model_artifact("weights") is not None
    assert past.get_model_artifact("weights").load() == [1, 2]  # type: ignore[union-attr]
