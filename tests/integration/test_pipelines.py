"""Pipelines and steps: the seed's flows end to end, on both stores.

Implicit registration, a version per run, explicit and templated version names, train ->
promote -> infer through a model's production version, failures, bad outputs, step contexts,
artifacts and metadata logged from inside a step, and a replay that folds it all back.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import pandas as pd
import pytest
from sklearn.base import ClassifierMixin
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier

from modelplane import (
    Model,
    get_pipeline_context,
    get_step_context,
    log_metadata,
    pipeline,
    step,
)
from modelplane.artifacts.artifact_config import ArtifactConfig
from modelplane.artifacts.utils import link_artifact_to_model, save_artifact
from modelplane.client import Client
from modelplane.enums import ModelStages
from modelplane.exceptions import (
    EntityExistsError,
    MaterializerError,
    NotFoundError,
    ValidationError,
)
from modelplane.pipelines import StepArtifact, StepOutputError
from tests.conftest import store_of
from tests.projection_tables import dump_tables

RUN_NAME = re.compile(r"^(?P<pipeline>\w+)-\d{4}_\d{2}_\d{2}-\d{2}_\d{2}_\d{2}_\d{6}$")


def _dump(client: Client) -> Any:
    with store_of(client).engine.connect() as conn:
        return dump_tables(conn)


def _assert_replay_identical(client: Client) -> None:
    live = _dump(client)
    client.rebuild_projections()
    assert _dump(client) == live


# ------------------------------------------------------------------- the seed's steps


@step
def load_data() -> Annotated[pd.DataFrame, "iris_data"]:
    iris = load_iris(as_frame=True)
    frame: pd.DataFrame = iris.frame
    return frame


@step
def train_model(
    data: pd.DataFrame, n_estimators: int = 10
) -> Annotated[ClassifierMixin, ArtifactConfig("trained_model", is_model_artifact=True)]:
    features = data.drop(columns=["target"])
    model = RandomForestClassifier(n_estimators=n_estimators, random_state=0)
    return model.fit(features, data["target"])


@step
def evaluate(model: ClassifierMixin, data: pd.DataFrame) -> None:
    features = data.drop(columns=["target"])
    accuracy = float((model.predict(features) == data["target"]).mean())
    log_metadata(
        metadata={"evaluation_metrics": {"accuracy": accuracy, "rows": len(data)}},
        infer_model=True,
    )


@step
def load_inference_data() -> Annotated[pd.DataFrame, "inference_data"]:
    frame: pd.DataFrame = load_iris(as_frame=True).frame.drop(columns=["target"]).head(12)
    return frame


SEEN: dict[str, Any] = {}


@step
def predict(model: ClassifierMixin, data: pd.DataFrame) -> Annotated[pd.Series, "predictions"]:
    """Make predictions using a trained model (the seed's step)."""
    context = get_step_context()
    assert context.model is not None
    SEEN["model_type"] = type(model).__name__
    SEEN["version"] = context.model.version
    SEEN["number"] = context.model.number
    return pd.Series(model.predict(data))


@pipeline(
    model=Model(
        name="iris_classifier",
        description="Classification model for the Iris dataset",
        tags=["classification", "sklearn"],
        license="MIT",
    )
)
def training_pipeline(n_estimators: int = 10) -> None:
    data = load_data()
    model = train_model(data, n_estimators=n_estimators)
    evaluate(model, data)


@pipeline(model=Model(name="iris_classifier", version=ModelStages.PRODUCTION))
def inference_pipeline() -> None:
    """Run inference using the production model."""
    model = get_pipeline_context().model
    assert model is not None
    inference_data = load_inference_data()
    predict(model=model.get_model_artifact("trained_model"), data=inference_data)


# ----------------------------------------------------------------------------- tests


def test_pipeline_registers_the_model_and_creates_a_version_per_run(client: Client) -> None:
    runs = [training_pipeline() for _ in range(3)]
    model = client.get_model("iris_classifier")
    assert model.description == "Classification model for the Iris dataset"
    assert model.tags == ["classification", "sklearn"] and model.license == "MIT"
    assert [r.model_version.number for r in runs if r.model_version] == [1, 2, 3]
    assert {r.status for r in runs} == {"completed"}
    assert {r.model_version_how for r in runs} == {"created"}
    names = [r.name for r in runs]
    assert len(set(names)) == 3
    for name in names:
        match = RUN_NAME.match(name)
        assert match and match["pipeline"] == "training_pipeline", name
    run = runs[0]
    assert list(run.steps) == ["load_data", "train_model", "evaluate"]
    assert run.parameters == {"n_estimators": 10}
    train = run.steps["train_model"]
    assert train.inputs == {"data": run.steps["load_data"].outputs["iris_data"]}
    mv = client.get_model_version("iris_classifier", "1")
    assert sorted(mv.model_artifacts) == ["trained_model"]
    assert sorted(mv.data_artifacts) == ["iris_data"]
    assert mv.get_model_artifact("trained_model") is not None
    assert mv.run_metadata["evaluation_metrics"].value["accuracy"] > 0.9
    assert [r.name for r in mv.producing_runs] == [run.name]
    # artifact versions count per name across runs
    assert [v.number for v in client.list_artifact_versions(name="trained_model")] == [3, 2, 1]
    _assert_replay_identical(client)


def test_explicit_version_is_got_or_created(client: Client) -> None:
    @pipeline(model=Model(name="iris_classifier", version="1.0.5"))
    def named_pipeline() -> None:
        load_data()

    first = named_pipeline()
    second = named_pipeline()
    assert first.model_version is not None and second.model_version is not None
    assert first.model_version.name == second.model_version.name == "1.0.5"
    assert first.model_version_id == second.model_version_id
    assert (first.model_version_how, second.model_version_how) == ("created", "named")
    assert client.list_model_versions("iris_classifier").total == 1
    assert sorted(client.get_model_version("iris_classifier", "1.0.5").pipeline_runs) == sorted(
        [first.name, second.name]
    )


def test_templated_version_names(client: Client) -> None:
    @pipeline(model=Model(name="iris_classifier", version="run-{run.id[:8]}"))
    def by_run_id() -> None:
        load_data()

    @pipeline(
        model=Model(name="iris_classifier", version="{team}_{date}"),
        substitutions={"team": "ml"},
    )
    def by_date() -> None:
        load_data()

    run = by_run_id()
    assert run.model_version is not None
    assert run.model_version.name == "run-" + str(run.id)[:8]
    assert re.fullmatch(r"run-[0-9a-f]{8}", run.model_version.name)
    today = datetime.now(UTC).strftime("%Y_%m_%d")
    dated = by_date()
    again = by_date()
    assert dated.model_version is not None and dated.model_version.name == f"ml_{today}"
    assert again.model_version_id == dated.model_version_id  # rendered the same: reused

    @pipeline(model=Model(name="other_model", version="v-{nope}"))
    def bad_template() -> None:
        load_data()

    runs_before = client.list_pipeline_runs().total
    with pytest.raises(ValidationError, match=r"\{nope\}"):
        bad_template()
    assert client.list_pipeline_runs().total == runs_before
    with pytest.raises(NotFoundError):
        client.get_model("other_model")  # a bad template costs nothing


def test_train_promote_and_infer_from_production(client: Client) -> None:
    training = training_pipeline()
    assert training.model_version is not None
    Model(name="iris_classifier", version="1").set_stage(ModelStages.PRODUCTION)
    training_pipeline()  # version 2 exists, but production is still 1

    SEEN.clear()
    inference = inference_pipeline()
    assert inference.status == "completed"
    assert inference.model_version_how == "stage" and inference.stage == "production"
    assert inference.model_version_id == training.model_version.id
    assert SEEN == {"model_type": "RandomForestClassifier", "version": "1", "number": 1}

    trained = client.get_model_version("iris_classifier", "1").get_model_artifact("trained_model")
    assert trained is not None
    predict_step = inference.steps["predict"]
    assert predict_step.inputs["model"] == trained.id
    assert (
        predict_step.inputs["data"]
        == inference.steps["load_inference_data"].outputs["inference_data"]
    )
    predictions = client.get_artifact_version(predict_step.outputs["predictions"]).load()
    assert isinstance(predictions, pd.Series) and len(predictions) == 12
    assert set(predictions) <= {0, 1, 2}

    production = client.get_model_version("iris_classifier", ModelStages.PRODUCTION)
    assert inference.name in [r.name for r in production.consuming_runs]
    assert inference.name not in [r.name for r in production.producing_runs]
    assert [(c.run_id, c.step, c.input_name) for c in trained.consumers] == [
        (training.id, "evaluate", "model"),
        (inference.id, "predict", "model"),
    ]
    assert client.list_pipeline_runs(model="iris_classifier").total == 3
    _assert_replay_identical(client)


def test_inference_with_nobody_in_production_is_refused(client: Client) -> None:
    with pytest.raises(NotFoundError, match="iris_classifier") as missing_model:
        inference_pipeline()
    assert "nothing was run" in str(missing_model.value)
    with pytest.raises(NotFoundError):
        client.get_model("iris_classifier")  # a stage lookup never registers the model

    client.create_model("iris_classifier")
    client.create_model_version("iris_classifier")
    with pytest.raises(NotFoundError, match="iris_classifier") as no_holder:
        inference_pipeline()
    assert "production" in str(no_holder.value)
    assert client.list_pipeline_runs().total == 0
    assert client.list_artifact_versions().total == 0


def test_a_failing_step_fails_the_run_and_reraises(client: Client) -> None:
    failure = ValueError("bad input")

    @step
    def prepare() -> Annotated[dict[str, int], "prepared"]:
        return {"rows": 3}

    @step
    def explode(prepared: dict[str, int]) -> Annotated[int, "never"]:
        raise failure

    @step
    def unreachable() -> None:
        raise AssertionError("a step after a failure must not run")

    @pipeline(model=Model(name="fragile"))
    def fragile() -> None:
        explode(prepare())
        unreachable()

    with pytest.raises(ValueError) as raised:
        fragile()
    assert raised.value is failure
    [run] = client.list_pipeline_runs(model="fragile")
    assert run.status == "failed" and run.error == "ValueError: bad input"
    assert list(run.steps) == ["prepare", "explode"]
    assert run.steps["prepare"].status == "completed"
    assert run.steps["explode"].status == "failed"
    assert run.steps["explode"].error == "ValueError: bad input"
    assert run.steps["explode"].inputs == {"prepared": run.steps["prepare"].outputs["prepared"]}
    kept = client.get_artifact_version("prepared")
    assert kept.load() == {"rows": 3} and kept.producer_run_id == run.id
    mv = client.get_model_version("fragile", "1")
    assert list(mv.data_artifacts) == ["prepared"]
    with pytest.raises(NotFoundError):
        client.get_artifact_version("never")

    # on its own, a failing step is a failed one-step run, and the same exception
    with pytest.raises(ValueError) as alone:
        explode({"rows": 1})
    assert alone.value is failure
    solo = client.list_pipeline_runs(status="failed").items[0]
    assert solo.pipeline == "explode" and list(solo.steps) == ["explode"]
    _assert_replay_identical(client)


def test_output_count_mismatch_and_unstorable_outputs(client: Client) -> None:
    @step
    def two_outputs(
        n: int,
    ) -> tuple[Annotated[int, "left"], Annotated[int, "right"]]:
        return tuple(range(n))  # type: ignore[return-value]

    @step
    def unstorable() -> Annotated[Any, "handle"]:
        return lambda: None

    @step
    def add(left: int, right: int) -> Annotated[int, "total"]:
        return left + right

    @pipeline(model=Model(name="shapes"))
    def shapes(n: int) -> None:
        left, right = two_outputs(n)
        add(left, right)

    run = shapes(2)
    assert run.status == "completed"
    assert set(run.steps["two_outputs"].outputs) == {"left", "right"}
    assert client.get_artifact_version("total").load() == 1
    assert set(run.steps["add"].inputs) == {"left", "right"}

    with pytest.raises(StepOutputError, match="two_outputs") as mismatch:
        shapes(3)
    assert "2 outputs" in str(mismatch.value) and "3 values" in str(mismatch.value)
    assert isinstance(mismatch.value, ValidationError)
    assert [v.number for v in client.list_artifact_versions(name="left")] == [1]
    with pytest.raises(StepOutputError, match="two_outputs"):
        two_outputs(1)
    assert client.list_artifact_versions(name="right").total == 1

    with pytest.raises(MaterializerError, match="function"):
        unstorable()
    assert client.list_artifact_versions(name="handle").total == 0
    failed = client.list_pipeline_runs(status="failed")
    assert {r.pipeline for r in failed} == {"shapes", "two_outputs", "unstorable"}


def test_a_step_on_its_own_is_a_one_step_run(client: Client) -> None:
    @step(model=Model(name="CustomerServiceAgent", version="2.1.0"))
    def configure_agent(
        knowledge_base: pd.DataFrame, evaluation_results: dict[str, float]
    ) -> Annotated[dict[str, Any], ArtifactConfig("agent_config")]:
        agent_config = {
            "prompt_template": f"Answer from {len(knowledge_base)} articles.",
            "tools": ["search", "database_query", "escalation"],
            "performance_threshold": evaluation_results["min_accuracy"],
        }
        for variant in ["concise", "detailed", "empathetic"]:
            save_artifact(f"prompt_template_{variant}", f"Be {variant}.", is_model_artifact=True)
        context = get_step_context()
        assert context.step_name == context.step_run.name == "configure_agent"
        assert context.pipeline_run.status == "running"
        return agent_config

    knowledge = pd.DataFrame({"article": ["a", "b"]})
    value = configure_agent(knowledge, {"min_accuracy": 0.8})
    assert value["performance_threshold"] == 0.8  # the value itself, not a handle

    [run] = client.list_pipeline_runs(model="CustomerServiceAgent")
    assert run.pipeline == "configure_agent" and run.status == "completed"
    assert run.model_version_how == "created"
    mv = client.get_model_version("CustomerServiceAgent", "2.1.0")
    assert sorted(mv.model_artifacts) == [
        "prompt_template_concise",
        "prompt_template_detailed",
        "prompt_template_empathetic",
    ]
    assert list(mv.data_artifacts) == ["agent_config"]
    prompt = client.get_artifact_version("prompt_template_concise")
    assert (prompt.producer_run_id, prompt.producer_step) == (run.id, "configure_agent")
    assert prompt.load() == "Be concise."
    links = [
        e.payload
        for e in client.list_events(model="CustomerServiceAgent", limit=1000)
        if e.type == "ModelVersion.ArtifactLinked"
    ]
    assert len(links) == 4
    assert {(p["run_id"], p["step"]) for p in links} == {(str(run.id), "configure_agent")}

    configure_agent(knowledge, {"min_accuracy": 0.9})  # the named version is reused
    assert client.list_model_versions("CustomerServiceAgent").total == 1
    assert [v.number for v in client.list_artifact_versions(name="agent_config")] == [2, 1]


def test_metadata_logged_in_a_step_keeps_its_run_and_step(client: Client) -> None:
    @step
    def score(accuracy: float) -> Annotated[dict[str, float], "scores"]:
        log_metadata(metadata={"evaluation_metrics": {"accuracy": accuracy}}, infer_model=True)
        log_metadata(metadata={"rows": 150}, infer_artifact=True)
        log_metadata(metadata={"gpu": False})  # no target inside a step: the step's run
        return {"accuracy": accuracy}

    @pipeline(model=Model(name="iris_classifier", version="1.2.3"))
    def scoring(accuracy: float) -> None:
        score(accuracy)

    first = scoring(0.91)
    second = scoring(0.97)
    mv = Client().get_model_version("iris_classifier", "1.2.3")
    metrics = mv.run_metadata["evaluation_metrics"]
    assert metrics.value == {"accuracy": 0.97}
    assert metrics.value["accuracy"] == 0.97
    assert [(e.value["accuracy"], e.run_id, e.step) for e in metrics.history] == [
        (0.91, first.id, "score"),
        (0.97, second.id, "score"),
    ]
    scores = client.get_artifact_version("scores")
    assert scores.run_metadata["rows"].value == 150
    assert scores.run_metadata["rows"].history[0].run_id == second.id
    assert client.get_pipeline_run(first.id).run_metadata["gpu"].value is False

    @step
    def no_model() -> None:
        log_metadata(metadata={"x": 1}, infer_model=True)

    with pytest.raises(ValidationError, match="infer_model"):
        no_model()
    with pytest.raises(ValidationError, match="infer_model"):
        log_metadata(metadata={"x": 1}, infer_model=True)


def test_contexts_and_links_inside_steps(client: Client) -> None:
    with pytest.raises(RuntimeError, match=r"^The step context is only available inside a step"):
        get_step_context()
    with pytest.raises(RuntimeError, match="No active pipeline"):
        get_pipeline_context()

    shared = save_artifact("shared_table", [1, 2, 3])  # outside a step: only saved
    assert shared.producer_run_id is None

    @step
    def link_it() -> Annotated[str, "note"]:
        context = get_step_context()
        assert context.model is not None and context.model.name == "linker"
        link_artifact_to_model(Client().get_artifact_version("shared_table"))
        return context.pipeline_run.name

    @pipeline(model=Model(name="linker"))
    def linking() -> None:
        context = get_pipeline_context()
        assert context.model is not None and context.model.number == 1
        note = link_it()
        assert isinstance(note, StepArtifact) and note.load() == context.run_name

    run = linking()
    mv = client.get_model_version("linker", "1")
    assert sorted(mv.data_artifacts) == ["note", "shared_table"]
    linked = [
        e.payload
        for e in client.list_events(model="linker", limit=1000)
        if e.type == "ModelVersion.ArtifactLinked" and e.payload["artifact_name"] == "shared_table"
    ]
    assert [(p["run_id"], p["step"]) for p in linked] == [(str(run.id), "link_it")]

    @step
    def unlinked() -> None:
        link_artifact_to_model(Client().get_artifact_version("shared_table"))

    with pytest.raises(ValidationError, match="no model configured"):
        unlinked()


def test_start_run_accepts_a_chosen_id(client: Client) -> None:
    registry = store_of(client).registry
    chosen = uuid.uuid4()
    started = registry.start_run("chosen", pipeline="p", actor="tester", run_id=chosen)
    assert started.id == chosen and client.get_pipeline_run(chosen).name == "chosen"
    with pytest.raises(EntityExistsError):
        registry.start_run("again", pipeline="p", actor="tester", run_id=chosen)
    assert client.list_pipeline_runs().total == 1


def test_run_naming_formats() -> None:
    from modelplane.pipelines.naming import RunNaming

    run_id = uuid.UUID("0123abcd-4567-89ab-cdef-0123456789ab")
    naming = RunNaming(
        run_id,
        "training",
        datetime(2026, 11, 26, 9, 15, 37, 271010, tzinfo=UTC),
        {"team": "ml"},
    )
    assert naming.run_name == "training-2026_11_26-09_15_37_271010"
    assert naming.render("{date}") == "2026_11_26" and naming.render("{time}") == "09_15_37_271010"
    assert naming.render("run-{run.id[:8]}") == "run-0123abcd"
    assert naming.render("{run.id[-4:]}-{run.id[0]}") == "89ab-0"
    assert naming.render("{run.name}") == naming.run_name
    assert naming.render("{team}-{ date }") == "ml-2026_11_26"
    assert naming.render("plain") == "plain"
    for bad in ("{unknown}", "{run.id[:x]}", "{", "a}"):
        with pytest.raises(ValidationError):
            naming.render(bad)


def test_lazy_lookups_repeated_steps_and_nesting(client: Client) -> None:
    @step
    def use(value: Any) -> Annotated[str, "used"]:
        return repr(value)

    @pipeline(model=Model(name="lazy_model"))
    def missing_lookup() -> None:
        model = get_pipeline_context().model
        assert model is not None
        use(value=1)
        use(value=model.get_model_artifact("not_there"))

    with pytest.raises(NotFoundError, match="not_there"):
        missing_lookup()
    [run] = client.list_pipeline_runs(model="lazy_model")
    assert run.status == "failed" and list(run.steps) == ["use", "use_2"]
    assert run.steps["use_2"].status == "failed"

    @pipeline
    def outer() -> None:
        missing_lookup()

    with pytest.raises(ValidationError, match="cannot be run from inside"):
        outer()
    assert client.list_pipeline_runs(status="failed").total == 2


def test_runs_through_the_cli(client: Client) -> None:
    import json
    import subprocess
    import sys
    from pathlib import Path

    run = training_pipeline(n_estimators=5)
    described = subprocess.run(
        [sys.executable, "-m", "modelplane", "run", "describe", str(run.id), "--json"],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert described.returncode == 0, described.stderr
    shown = json.loads(described.stdout)
    assert shown["status"] == "completed" and shown["parameters"] == {"n_estimators": 5}
    assert list(shown["steps"]) == ["load_data", "train_model", "evaluate"]


def test_output_kinds_tags_and_config_metadata(client: Client) -> None:
    from sklearn.linear_model import LogisticRegression

    @step
    def produce() -> tuple[
        Annotated[ClassifierMixin, "clf"],
        Annotated[dict[str, str], ArtifactConfig("endpoint", is_deployment_artifact=True)],
        Annotated[list[int], ArtifactConfig(name="labels", tags=["gold"], run_metadata={"n": 3})],
        Annotated[str, ArtifactConfig("weights_note", artifact_type="model")],
    ]:
        clf = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
        return clf, {"url": "http://127.0.0.1:8000"}, [0, 1, 1], "fp16"

    @pipeline(model=Model(name="kinds"))
    def kinds() -> None:
        clf, *_ = produce()
        assert isinstance(clf, StepArtifact) and clf.name == "clf" and clf.version == "1"

    kinds()
    mv = client.get_model_version("kinds", "1")
    assert sorted(mv.model_artifacts) == ["clf", "weights_note"]  # estimators: model kind
    assert list(mv.deployment_artifacts) == ["endpoint"]
    assert list(mv.data_artifacts) == ["labels"]
    labels = client.get_artifact_version("labels")
    assert labels.tags == ["gold"] and labels.run_metadata["n"].value == 3
    assert labels.run_metadata["n"].history[0].step == "produce"
