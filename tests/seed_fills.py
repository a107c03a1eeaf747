"""What the seed document leaves to the reader, written out for ``test_seed_snippets.py``.

The seed (``../shared/seed/models.md``) calls helpers it never defines
(``generate_prompt_from_kb``, ``load_data``, ``calculate_accuracy``...), leaves pipeline
bodies as ``# Pipeline implementation...`` and never runs what it defines. Each snippet runs
as its own process with the repository root on ``PYTHONPATH``: its prelude imports from
here (helpers, steps, and the state an earlier snippet would have left), and its epilogue
calls one of the ``check_*`` functions below with what the snippet defined, which runs it
and asserts what the document says happens. The helpers work for real, on small data: the
iris set with scikit-learn, and a six-entry customer-service knowledge base.
"""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any

import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import accuracy_score, precision_score, recall_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline as SklearnPipeline

from modelplane import Model, log_metadata, pipeline, step
from modelplane.artifacts.artifact_config import ArtifactConfig
from modelplane.client import Client
from modelplane.enums import ModelStages
from modelplane.exceptions import NotFoundError
from modelplane.pipelines import Pipeline, Step
from modelplane.responses import ModelVersionResponse, PipelineRunResponse

IRIS = "iris_classifier"
AGENT = "CustomerServiceAgent"
AGENT_VERSION = "2.1.0"
PROMPT_VARIANTS = ("concise", "detailed", "empathetic")
TRAINING_STEPS = ["load_iris_split", "train_model", "evaluate_iris"]

# ------------------------------------------------------------------------ iris, sklearn


def iris_frame() -> pd.DataFrame:
    """The iris set: four feature columns and ``target``."""
    frame: pd.DataFrame = load_iris(as_frame=True).frame
    return frame


def feature_columns() -> list[str]:
    return [str(c) for c in iris_frame().columns if c != "target"]


def calculate_accuracy(predictions: Sequence[Any], target: Sequence[Any]) -> float:
    return float(accuracy_score(list(target), list(predictions)))


def calculate_precision(predictions: Sequence[Any], target: Sequence[Any]) -> float:
    """Macro-averaged precision (iris has three classes)."""
    return float(precision_score(list(target), list(predictions), average="macro"))


def calculate_recall(predictions: Sequence[Any], target: Sequence[Any]) -> float:
    return float(recall_score(list(target), list(predictions), average="macro"))


def iris_metrics(model: SklearnPipeline, test_data: pd.DataFrame) -> dict[str, float]:
    """The three metrics the seed's ``evaluate_model`` logs, computed the same way."""
    predictions = model.predict(test_data)
    return {
        "accuracy": calculate_accuracy(predictions, test_data["target"]),
        "precision": calculate_precision(predictions, test_data["target"]),
        "recall": calculate_recall(predictions, test_data["target"]),
    }


@step
def load_iris_split() -> tuple[
    Annotated[pd.DataFrame, "train_data"], Annotated[pd.DataFrame, "test_data"]
]:
    """A stratified 70/30 split of iris, both halves with their ``target`` column."""
    frame = iris_frame()
    train, test = train_test_split(frame, test_size=0.3, random_state=0, stratify=frame["target"])
    return train.reset_index(drop=True), test.reset_index(drop=True)


@step
def train_model(
    train_data: pd.DataFrame,
) -> Annotated[SklearnPipeline, ArtifactConfig("trained_model", is_model_artifact=True)]:
    """A random forest behind a column selector, so it predicts on frames with or without
    ``target`` (the seed's ``model.predict(test_data)`` next to ``test_data.target``)."""
    select = ColumnTransformer([("features", "passthrough", feature_columns())], remainder="drop")
    forest = RandomForestClassifier(n_estimators=25, random_state=0)
    model = SklearnPipeline([("select", select), ("forest", forest)])
    return model.fit(train_data, train_data["target"])


@step
def evaluate_iris(model: SklearnPipeline, test_data: pd.DataFrame) -> None:
    log_metadata(metadata={"evaluation_metrics": iris_metrics(model, test_data)}, infer_model=True)


@step
def load_data() -> Annotated[pd.DataFrame, "inference_data"]:
    """Inference data for the seed's ``inference_pipeline``: 20 iris rows, no labels."""
    frame = iris_frame().drop(columns=["target"]).sample(n=20, random_state=1)
    return frame.reset_index(drop=True)


def train_iris(version: str | None = None) -> PipelineRunResponse:
    """One training run of ``iris_classifier``: a new version, or the one named."""

    @pipeline(name="iris_training", model=Model(name=IRIS, version=version))
    def iris_training() -> None:
        train_data, test_data = load_iris_split()
        model = train_model(train_data)
        evaluate_iris(model, test_data)

    run = iris_training()
    assert run.status == "completed", run
    return run


def train_two_and_promote_first() -> ModelVersionResponse:
    """Versions 1 and 2 trained; version 1 (not the latest) promoted to production."""
    first = train_iris().model_version
    train_iris()
    assert first is not None
    return first.set_stage(ModelStages.PRODUCTION, reason="seed snippet prelude")


def create_iris_versions(*names: str) -> list[ModelVersionResponse]:
    """``iris_classifier`` registered through the SDK, with these versions, in order."""
    client = Client()
    client.create_model(name=IRIS, description="Classification model for the Iris dataset")
    return [client.create_model_version(IRIS, name=name) for name in names]


def first_of_two_trained_versions() -> str:
    """The id of version 1 of two trained versions (the seed writes "model_version_id")."""
    first = train_iris()
    train_iris()
    assert first.model_version_id is not None
    return str(first.model_version_id)


# --------------------------------------------------------------- agents, prompts, queries

KNOWLEDGE_BASE = [
    (
        "How do I reset my password?",
        "Use 'Forgot password' on the sign-in page; the link is valid for 30 minutes.",
        "account",
        "search",
    ),
    (
        "Where is my order?",
        "Look the order up by its number; orders ship within two business days.",
        "orders",
        "database_query",
    ),
    (
        "How do I return an item?",
        "Items can be returned within 30 days from the Orders page.",
        "returns",
        "search",
    ),
    (
        "Can I change my delivery address?",
        "Yes, until the order ships, from the order's page.",
        "orders",
        "database_query",
    ),
    (
        "How do I cancel my subscription?",
        "Cancel under Settings > Billing; access lasts until the end of the period.",
        "billing",
        "search",
    ),
    (
        "Why was I charged twice?",
        "The second charge is a pending authorisation; it disappears within three days.",
        "billing",
        "database_query",
    ),
]
TEST_QUERIES = [
    "I forgot my password, how do I reset it?",
    "where is my order 1234",
    "I want to return an item I bought",
    "why was my card charged twice?",
    "Do you sell gift cards?",
]
AGENT_TOOLS = ["search", "database_query", "escalation"]
STOPWORDS = frozenset(
    re.findall(
        r"\w+",
        "a an the i my me do does how is was where why can to you your it of in on and what want",
    )
)
VARIANT_STYLES = {
    "concise": "Answer in one sentence.",
    "detailed": "Answer step by step and quote the policy you rely on.",
    "empathetic": "Acknowledge how the customer feels before you answer.",
}
#: Tool calls made by agents in this process (``calculate_tool_efficiency`` reads it).
TOOL_CALLS: Counter[str] = Counter()


def knowledge_base() -> pd.DataFrame:
    return pd.DataFrame(KNOWLEDGE_BASE, columns=["question", "answer", "category", "tool"])


@step
def load_knowledge_base() -> Annotated[pd.DataFrame, "knowledge_base"]:
    return knowledge_base()


@step
def offline_evaluation() -> Annotated[dict[str, float], "evaluation_results"]:
    return {"min_accuracy": 0.9}


def content_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in STOPWORDS}


def generate_prompt_from_kb(knowledge_base: pd.DataFrame) -> str:
    """A system prompt: the categories served, then every entry as a worked example."""
    categories = ", ".join(sorted({str(c) for c in knowledge_base["category"]}))
    examples = "\n\n".join(
        f"Q: {q}\nA: {a}"
        for q, a in zip(knowledge_base["question"], knowledge_base["answer"], strict=True)
    )
    return (
        f"You are a customer service agent for {categories} questions. Answer from the "
        f"examples below; escalate anything they do not cover.\n\n{examples}"
    )


def generate_prompt_variant(knowledge_base: pd.DataFrame, variant: str) -> str:
    if variant not in VARIANT_STYLES:
        msg = f"Unknown prompt variant '{variant}'; known: {', '.join(VARIANT_STYLES)}."
        raise ValueError(msg)
    return f"{generate_prompt_from_kb(knowledge_base)}\n\nStyle: {VARIANT_STYLES[variant]}"


@dataclass(frozen=True)
class AgentResponse:
    query: str
    answer: str
    tool: str
    #: Share of the query's content words the matched knowledge base question covers.
    match: float
    latency_ms: float

    @property
    def answered(self) -> bool:
        return self.tool not in ("escalation", "none")


@dataclass
class AgentConfig:
    """A retrieval agent over the knowledge base: the object the seed's ``evaluate_agent``
    calls ``process_query`` on and reads ``tools``, ``prompt_version``, ``temperature`` of."""

    knowledge_base: pd.DataFrame
    tools: list[str] = field(default_factory=lambda: list(AGENT_TOOLS))
    prompt_version: str = "concise-v1"
    temperature: float = 0.7

    def process_query(self, query: str) -> AgentResponse:
        started = time.perf_counter()
        words = content_words(query)
        best: Any = None
        best_score = 0.0
        for row in self.knowledge_base.itertuples(index=False):
            overlap = len(words & content_words(str(row.question)))
            score = overlap / len(words) if words else 0.0
            if score > best_score:
                best, best_score = row, score
        if best is not None and str(best.tool) in self.tools:
            tool, answer = str(best.tool), str(best.answer)
        elif "escalation" in self.tools:
            tool, answer, best_score = "escalation", "Passing you to a colleague.", 0.0
        else:
            tool, answer, best_score = "none", "Sorry, I cannot help with that.", 0.0
        TOOL_CALLS[tool] += 1
        latency = (time.perf_counter() - started) * 1000
        return AgentResponse(query, answer, tool, best_score, latency)


def calculate_response_quality(responses: list[AgentResponse], test_queries: list[str]) -> float:
    """Mean match score over the queries; an escalated or unanswered query scores 0."""
    assert [r.query for r in responses] == list(test_queries)
    return sum(r.match if r.answered else 0.0 for r in responses) / len(test_queries)


def calculate_avg_response_time(responses: list[AgentResponse]) -> float:
    return sum(r.latency_ms for r in responses) / len(responses)


def calculate_satisfaction_score(responses: list[AgentResponse]) -> float:
    """On 1-5: an answer 5, a hand-over to a human 3, no help at all 1."""
    scores = [5.0 if r.answered else 3.0 if r.tool == "escalation" else 1.0 for r in responses]
    return sum(scores) / len(scores)


def calculate_tool_efficiency(tools: list[str]) -> float:
    """The share of the enabled tools the agent actually called."""
    return sum(1 for t in tools if TOOL_CALLS[t]) / len(tools)


# -------------------------------------------------------------------------- the checks


def _raises_not_found(read: Callable[[], object], what: str) -> None:
    try:
        read()
    except NotFoundError:
        return
    raise AssertionError(f"{what} is still readable")


def check_registered(name: str, license: str, description: str, tags: list[str]) -> None:
    """The model exists with the card the snippet gave it, and no version yet."""
    client = Client()
    model = client.get_model(name)
    assert (model.name, model.license, model.description) == (name, license, description), model
    assert sorted(model.tags) == sorted(tags), model.tags
    assert client.list_model_versions(name).total == 0


def check_implicit_registration(training_pipeline: Pipeline) -> None:
    """Running the pipeline registers iris_classifier; each run makes a new version."""
    client = Client()
    _raises_not_found(lambda: client.get_model(IRIS), "a model before the first run")
    runs = [training_pipeline(), training_pipeline()]
    model = client.get_model(IRIS)
    assert model.description == "Classification model for the Iris dataset"
    assert sorted(model.tags) == ["classification", "sklearn"]
    assert [r.status for r in runs] == ["completed", "completed"]
    assert [r.model_version_how for r in runs] == ["created", "created"]
    versions = [r.model_version for r in runs]
    assert [(v.name, v.number) for v in versions if v] == [("1", 1), ("2", 2)]
    assert list(runs[0].steps) == TRAINING_STEPS
    version = client.get_model_version(IRIS, "1")
    assert sorted(version.model_artifacts) == ["trained_model"]
    assert sorted(version.data_artifacts) == ["test_data", "train_data"]
    assert version.run_metadata["evaluation_metrics"].value["accuracy"] > 0.8
    assert [r.name for r in version.producing_runs] == [runs[0].name]


def check_explicit_version(training_pipeline: Pipeline) -> None:
    """Version "1.0.5" is created by the first run and reused by the second."""
    first, second = training_pipeline(), training_pipeline()
    assert first.model_version is not None and second.model_version is not None
    assert first.model_version.name == second.model_version.name == "1.0.5"
    assert first.model_version_id == second.model_version_id
    assert (first.model_version_how, second.model_version_how) == ("created", "named")
    client = Client()
    assert [v.name for v in client.list_model_versions(IRIS)] == ["1.0.5"]
    version = client.get_model_version(IRIS, "1.0.5")
    assert sorted(version.pipeline_runs) == sorted([first.name, second.name])
    assert sorted(version.model_artifacts["trained_model"]) == ["1", "2"]


def check_templated_version(training_pipeline: Pipeline) -> None:
    """``run-{run.id[:8]}``: each run's version is "run-" + its id's first 8 hex digits."""
    runs = [training_pipeline(), training_pipeline()]
    names = []
    for run in runs:
        assert run.model_version is not None
        assert run.model_version.name == "run-" + str(run.id)[:8], (run.model_version, run.id)
        assert re.fullmatch(r"run-[0-9a-f]{8}", run.model_version.name)
        names.append(run.model_version.name)
    listed = sorted(v.name for v in Client().list_model_versions(IRIS))
    assert listed == sorted(names) and len(set(names)) == 2


def check_configure_agent(configure_agent: Step) -> None:
    """agent_config is a data artifact and the three prompt templates model artifacts of
    CustomerServiceAgent 2.1.0; a second call (inputs from steps) adds version 2 of each."""
    kb = knowledge_base()
    config = configure_agent(knowledge_base=kb, evaluation_results={"min_accuracy": 0.85})
    assert config["prompt_template"] == generate_prompt_from_kb(kb)
    assert config["performance_threshold"] == 0.85
    assert config["tools"] == ["search", "database_query", "escalation"]

    client = Client()
    assert client.get_model(AGENT).name == AGENT  # registered by the step's model
    version = client.get_model_version(AGENT, AGENT_VERSION)
    templates = sorted(f"prompt_template_{v}" for v in PROMPT_VARIANTS)
    assert sorted(version.data_artifacts) == ["agent_config"]
    assert sorted(version.model_artifacts) == templates
    assert version.deployment_artifacts == {}
    agent_config = version.get_data_artifact("agent_config")
    assert agent_config is not None and agent_config.load() == config
    assert agent_config.producer_step == "configure_agent"
    assert version.get_model_artifact("agent_config") is None
    for variant in PROMPT_VARIANTS:
        template = version.get_model_artifact(f"prompt_template_{variant}")
        assert template is not None, variant
        assert template.load() == generate_prompt_variant(kb, variant)
        assert template.producer_step == "configure_agent"
        assert template.producer_run_id == agent_config.producer_run_id

    @pipeline
    def agent_release() -> None:
        configure_agent(
            knowledge_base=load_knowledge_base(), evaluation_results=offline_evaluation()
        )

    run = agent_release()
    assert run.status == "completed"
    step_run = run.steps["configure_agent"]
    assert sorted(step_run.inputs) == ["evaluation_results", "knowledge_base"]
    version = client.get_model_version(AGENT, AGENT_VERSION)
    assert [v.name for v in client.list_model_versions(AGENT)] == [AGENT_VERSION]
    assert sorted(version.data_artifacts) == ["agent_config"]
    assert sorted(version.data_artifacts["agent_config"]) == ["1", "2"]
    for name in templates:
        assert sorted(version.model_artifacts[name]) == ["1", "2"], name
    newest = version.get_data_artifact("agent_config")
    assert newest is not None and newest.load()["performance_threshold"] == 0.9


def check_promotions() -> None:
    """1.2.3 holds production, the latest version (1.3.0) staging."""
    client = Client()
    assert client.get_model_version(IRIS, ModelStages.PRODUCTION).name == "1.2.3"
    assert client.get_model_version(IRIS, ModelStages.STAGING).name == "1.3.0"
    assert client.get_model_version(IRIS, "1.2.3").stage == ModelStages.PRODUCTION
    assert client.get_model_version(IRIS, "1.3.0").stage == ModelStages.STAGING
    history = [(c.version, c.stage) for c in client.get_stage_history(IRIS)]
    assert history == [("1.2.3", ModelStages.PRODUCTION), ("1.3.0", ModelStages.STAGING)]


def check_inference(inference_pipeline: Pipeline, production: ModelVersionResponse) -> None:
    """The run resolves the production version (1, not the latest, 2), feeds its trained
    model to ``predict``, and its predictions are that model's."""
    client = Client()
    assert client.get_model_version(IRIS).name == "2"
    run = inference_pipeline()
    assert run.status == "completed", run.error
    assert run.model_version_id == production.id
    assert (run.model_version_how, run.stage) == ("stage", "production")
    trained = production.get_model_artifact("trained_model")
    assert trained is not None
    steps = run.steps
    assert list(steps) == ["load_data", "predict"]
    assert steps["predict"].inputs["model"] == trained.id
    data = client.get_artifact_version(steps["predict"].inputs["data"]).load()
    predictions = client.get_artifact_version("predictions").load()
    assert isinstance(predictions, pd.Series) and len(predictions) == len(data) == 20
    assert list(predictions) == list(trained.load().predict(data))
    linked = client.get_model_version(IRIS, "1").get_data_artifact("predictions")
    assert linked is not None and linked.producer_run_id == run.id
    assert (run.id, "predict") in [(c.run_id, c.step) for c in trained.consumers]


def check_evaluate_model(evaluate_model: Step) -> None:
    """``evaluate_model`` in a pipeline with a model: its metrics land on that version."""

    @pipeline(model=Model(name=IRIS))
    def evaluation() -> None:
        train_data, test_data = load_iris_split()
        model = train_model(train_data)
        evaluate_model(model=model, test_data=test_data)

    run = evaluation()
    assert run.status == "completed", run.error
    version = Client().get_model_version(IRIS, run.model_version_id)
    trained = version.get_model_artifact("trained_model")
    test_data = version.get_data_artifact("test_data")
    assert trained is not None and test_data is not None
    logged = version.run_metadata["evaluation_metrics"]
    assert logged.value == iris_metrics(trained.load(), test_data.load()), logged.value
    assert set(logged.value) == {"accuracy", "precision", "recall"}
    assert logged.value["accuracy"] > 0.8
    entry = logged.history[-1]
    assert (entry.run_id, entry.step) == (run.id, "evaluate_model")


def check_evaluate_agent(evaluate_agent: Step) -> None:
    """``evaluate_agent`` against CustomerServiceAgent 2.1.0: both metadata keys logged."""
    agent = AgentConfig(knowledge_base())

    @pipeline(model=Model(name=AGENT, version=AGENT_VERSION))
    def agent_evaluation() -> None:
        evaluate_agent(agent_config=agent, test_queries=TEST_QUERIES)

    run = agent_evaluation()
    assert run.status == "completed", run.error
    metadata = Client().get_model_version(AGENT, AGENT_VERSION).run_metadata
    evaluation = metadata["agent_evaluation"].value
    # 4 of 5 queries answered, matching 2/3, 1/2, 2/3, 2/3 of their words; one escalated
    assert math.isclose(evaluation["response_quality"], 0.5), evaluation
    assert math.isclose(evaluation["user_satisfaction_score"], 4.6), evaluation
    assert evaluation["tool_efficiency"] == 1.0
    assert evaluation["total_queries_evaluated"] == len(TEST_QUERIES) == 5
    assert 0.0 <= evaluation["avg_response_time_ms"] < 1000.0
    assert metadata["agent_configuration"].value == {
        "prompt_template_version": "concise-v1",
        "tools_enabled": AGENT_TOOLS,
        "model_temperature": 0.7,
    }
    assert metadata["agent_evaluation"].history[-1].step == "evaluate_agent"


def check_fetched_metrics(metrics: dict[str, float]) -> None:
    """What the snippet read is what training logged: recomputed from 1.2.3's artifacts."""
    version = Client().get_model_version(IRIS, "1.2.3")
    trained = version.get_model_artifact("trained_model")
    test_data = version.get_data_artifact("test_data")
    assert trained is not None and test_data is not None
    assert metrics == iris_metrics(trained.load(), test_data.load()), metrics


def check_model_deleted() -> None:
    client = Client()
    _raises_not_found(lambda: client.get_model(IRIS), "the deleted model")
    _raises_not_found(lambda: client.get_model_version(IRIS, "1"), "a deleted model's version")
    assert client.list_models(name=IRIS).total == 0


def check_version_deleted(model_version_id: str) -> None:
    client = Client()
    by_id = client.backend.get_model_version_by_id
    _raises_not_found(lambda: by_id(model_version_id), "the deleted version")
    _raises_not_found(lambda: client.get_model_version(IRIS, "1"), "the deleted version")
    assert [v.name for v in client.list_model_versions(IRIS)] == ["2"]
    assert client.get_model(IRIS).name == IRIS  # the model and its other version stay
