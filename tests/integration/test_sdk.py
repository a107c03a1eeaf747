"""The SDK's behaviour, on SQLite and PostgreSQL: each call as users of ZenML expect it.

One behaviour per test; the state a group of tests starts from is a fixture, written fresh
for each test (SDK writes take milliseconds). Names refused by their spelling alone are checked
on SQLite only: the store is never asked (each still checks that nothing was appended).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from modelplane import Model, log_metadata
from modelplane.client import Client
from modelplane.enums import ModelStages
from modelplane.exceptions import (
    EntityDeletedError,
    EntityExistsError,
    NotFoundError,
    StageOccupiedError,
    ValidationError,
)
from modelplane.responses import ModelResponse, ModelVersionResponse, StageChange
from tests.conftest import store_of
from tests.log_reading import log_head

#: For what is refused before the store is asked: the ``store`` fixture on SQLite only.
SQLITE_ONLY = pytest.mark.parametrize("store", ["sqlite"], indirect=True)


@pytest.fixture
def four_models(client: Client) -> ModelResponse:
    """``customer_service_agent`` (every field set; returned), ``iris_classifier`` and
    ``iris_regressor`` (tagged tabular), ``mnist`` (tagged vision)."""
    created = client.create_model(
        name="customer_service_agent",
        license="MIT",
        description="Multi-agent system for customer service automation",
        tags=["agent", "customer-service", "llm", "rag"],
        audience="support",
        use_cases="triage",
        limitations="english only",
        trade_offs="latency",
        ethics="human review",
    )
    for name in ("iris_classifier", "iris_regressor", "mnist"):
        client.create_model(name, tags=["vision"] if name == "mnist" else ["tabular"])
    return created


def test_create_model_returns_it_and_get_finds_it_by_name_and_id(
    client: Client, four_models: ModelResponse
) -> None:
    created = four_models
    assert created.name == "customer_service_agent"
    assert created.tags == ["agent", "customer-service", "llm", "rag"]
    assert created.latest_version_name is None
    assert created.user == "tester"
    assert client.get_model("customer_service_agent") == created
    assert client.get_model(created.id) == created
    assert client.get_model(str(created.id)).ethics == "human review"


def test_list_models_by_name_tag_and_page(client: Client, four_models: ModelResponse) -> None:
    assert [m.name for m in client.list_models(name="iris")] == [
        "iris_classifier",
        "iris_regressor",
    ]
    assert [m.name for m in client.list_models(tag="vision")] == ["mnist"]
    page = client.list_models(page=2, size=3)
    assert page.total == 4 and page.total_pages == 2 and [m.name for m in page] == ["mnist"]


def test_update_model_description_and_tags(client: Client, four_models: ModelResponse) -> None:
    updated = client.update_model(
        "iris_classifier", description="Iris", add_tags=["sklearn"], remove_tags=["tabular"]
    )
    assert updated.description == "Iris" and updated.tags == ["sklearn"]


def test_a_renamed_model_is_not_found_by_its_old_name(
    client: Client, four_models: ModelResponse
) -> None:
    renamed = client.update_model("iris_regressor", name="iris_reg")
    assert renamed.name == "iris_reg"
    with pytest.raises(NotFoundError):
        client.get_model("iris_regressor")


def test_a_deleted_model_is_gone_and_cannot_be_deleted_again(
    client: Client, four_models: ModelResponse
) -> None:
    client.delete_model("mnist")
    with pytest.raises(NotFoundError):
        client.get_model("mnist")
    assert "mnist" not in [m.name for m in client.list_models()]
    with pytest.raises(NotFoundError):
        client.delete_model("mnist")


@SQLITE_ONLY
@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("", ValidationError),
        ("   ", ValidationError),
        ("x" * 256, ValidationError),
        ("a/b", ValidationError),
        ("tab\tname", ValidationError),
    ],
)
def test_bad_model_names_are_refused_and_append_nothing(
    client: Client, name: str, error: type
) -> None:
    before = log_head(client)
    with pytest.raises(error):
        client.create_model(name)
    assert log_head(client) == before


def test_duplicate_model_name_is_refused(client: Client) -> None:
    client.create_model("iris")
    before = log_head(client)
    with pytest.raises(EntityExistsError, match="iris"):
        client.create_model("iris")
    assert log_head(client) == before


def test_version_numbers_count_up_and_are_never_reused(client: Client) -> None:
    client.create_model("iris")
    v1 = client.create_model_version("iris")
    v2 = client.create_model_version("iris", name="1.2.3", description="more trees", tags=["rf"])
    v3 = client.create_model_version("iris")
    assert (v1.number, v1.name, v1.version) == (1, "1", "1")
    assert (v2.number, v2.name, v2.description, v2.tags) == (2, "1.2.3", "more trees", ["rf"])
    assert (v3.number, v3.name) == (3, "3")
    assert v1.stage == ModelStages.NONE and v1.model_name == "iris"
    client.delete_model_version(v3.id)
    v4 = client.create_model_version("iris")
    assert v4.number == 4, "a deleted version's number is never given out again"
    assert client.get_model("iris").latest_version_name == "4"


@SQLITE_ONLY
@pytest.mark.parametrize("name", ["42", "production", "Latest", "none", "archived", ""])
def test_reserved_version_names_are_refused(client: Client, name: str) -> None:
    client.create_model("iris")
    before = log_head(client)
    with pytest.raises(ValidationError):
        client.create_model_version("iris", name=name)
    assert log_head(client) == before


def test_duplicate_version_name_is_refused_but_reusable_after_delete(client: Client) -> None:
    client.create_model("iris")
    first = client.create_model_version("iris", name="1.0.5")
    with pytest.raises(EntityExistsError, match=r"1\.0\.5"):
        client.create_model_version("iris", name="1.0.5")
    client.delete_model_version(first.id)
    again = client.create_model_version("iris", name="1.0.5")
    assert again.number == 2 and again.id != first.id, "a refused create consumes no number"


@pytest.fixture
def two_versions(client: Client) -> tuple[ModelVersionResponse, ModelVersionResponse]:
    """Model ``iris``: version "1" and version "1.2.3" (number 2)."""
    client.create_model("iris")
    return client.create_model_version("iris"), client.create_model_version("iris", name="1.2.3")


def test_get_model_version_by_latest_number_name_and_id(
    client: Client, two_versions: tuple[ModelVersionResponse, ModelVersionResponse]
) -> None:
    v1, v2 = two_versions
    assert client.get_model_version("iris").id == v2.id
    assert client.get_model_version("iris", ModelStages.LATEST).id == v2.id
    assert client.get_model_version("iris", "latest").id == v2.id
    assert client.get_model_version("iris", 1).id == v1.id
    assert client.get_model_version("iris", "1").id == v1.id
    assert client.get_model_version("iris", "1.2.3").id == v2.id
    assert client.get_model_version("iris", v1.id).id == v1.id
    assert client.get_model_version("iris", str(v2.id)).id == v2.id


def test_a_selector_nothing_matches_is_not_found(
    client: Client, two_versions: tuple[ModelVersionResponse, ModelVersionResponse]
) -> None:
    with pytest.raises(NotFoundError, match="production"):
        client.get_model_version("iris", ModelStages.PRODUCTION)
    with pytest.raises(NotFoundError):
        client.get_model_version("iris", "9.9.9")
    with pytest.raises(NotFoundError):
        client.get_model_version("iris", 7)


def test_get_model_version_by_stage(
    client: Client, two_versions: tuple[ModelVersionResponse, ModelVersionResponse]
) -> None:
    v1, v2 = two_versions
    client.update_model_version("iris", "1", stage=ModelStages.PRODUCTION)
    client.update_model_version("iris", "1.2.3", stage="staging")
    assert client.get_model_version("iris", ModelStages.PRODUCTION).id == v1.id
    assert client.get_model_version("iris", "staging").id == v2.id


@pytest.fixture
def seven_versions(client: Client) -> None:
    """Model ``iris``: versions 1-7, the even ones tagged "even"; 3 in production, 5 and 6
    archived."""
    client.create_model("iris")
    for i in range(1, 8):
        client.create_model_version("iris", tags=["even"] if i % 2 == 0 else [])
    client.update_model_version("iris", 3, stage="production")
    client.update_model_version("iris", 5, stage="archived")
    client.update_model_version("iris", 6, stage="archived")


@pytest.mark.usefixtures("seven_versions")
def test_list_model_versions_pages_newest_first(client: Client) -> None:
    assert [v.number for v in client.list_model_versions("iris")] == [7, 6, 5, 4, 3, 2, 1]
    page = client.list_model_versions("iris", page=2, size=3)
    assert [v.number for v in page] == [4, 3, 2] and page.total == 7


@pytest.mark.usefixtures("seven_versions")
def test_list_model_versions_by_stage_and_tag(client: Client) -> None:
    assert [v.number for v in client.list_model_versions("iris", stage="production")] == [3]
    assert [v.number for v in client.list_model_versions("iris", stage=ModelStages.ARCHIVED)] == [
        6,
        5,
    ]
    assert [v.number for v in client.list_model_versions("iris", tag="even")] == [6, 4, 2]
    with pytest.raises(ValidationError):
        client.list_model_versions("iris", stage="bogus")


@pytest.fixture
def one_in_production(client: Client) -> None:
    """Model ``iris``: versions 1-3, version 1 in production."""
    client.create_model("iris")
    for _ in range(3):
        client.create_model_version("iris")
    client.update_model_version("iris", 1, stage="production", reason="first")


@pytest.mark.usefixtures("one_in_production")
def test_promotion_into_an_occupied_stage_is_refused_naming_the_holder(client: Client) -> None:
    before = log_head(client)
    with pytest.raises(StageOccupiedError) as refused:
        client.update_model_version("iris", 2, stage="production")
    assert refused.value.stage == "production" and refused.value.holder == "1"
    assert "production" in str(refused.value) and "'1'" in str(refused.value)
    assert isinstance(refused.value, RuntimeError)
    assert log_head(client) == before, "a refused promotion appends nothing"


@pytest.mark.usefixtures("one_in_production")
def test_a_forced_promotion_archives_the_holder(client: Client) -> None:
    promoted = client.update_model_version(
        "iris", 2, stage="production", force=True, reason="better"
    )
    assert promoted.stage == ModelStages.PRODUCTION
    assert client.get_model_version("iris", 1).stage == ModelStages.ARCHIVED
    # any number of versions may be archived or none
    client.update_model_version("iris", 3, stage="archived")
    client.update_model_version("iris", 3, stage="none")
    client.update_model_version("iris", 1, stage="none")
    assert {v.number: v.stage for v in client.list_model_versions("iris")} == {
        1: ModelStages.NONE,
        2: ModelStages.PRODUCTION,
        3: ModelStages.NONE,
    }


@pytest.mark.usefixtures("one_in_production")
def test_latest_and_unknown_stages_cannot_be_set(client: Client) -> None:
    with pytest.raises(ValidationError, match="latest"):
        client.update_model_version("iris", 3, stage=ModelStages.LATEST)
    with pytest.raises(ValidationError, match="bogus"):
        client.update_model_version("iris", 3, stage="bogus")


@pytest.mark.usefixtures("one_in_production")
def test_promoting_the_holder_again_appends_nothing(client: Client) -> None:
    head = log_head(client)
    client.update_model_version("iris", 1, stage="production")
    assert log_head(client) == head


def test_a_deleted_version_leaves_its_stage_and_refuses_commands(client: Client) -> None:
    client.create_model("iris")
    v1 = client.create_model_version("iris")
    client.update_model_version("iris", 1, stage="production")
    client.delete_model_version(v1.id)
    with pytest.raises(NotFoundError):
        client.get_model_version("iris", ModelStages.PRODUCTION)
    with pytest.raises(NotFoundError):
        client.update_model_version("iris", 1, stage="staging")
    registry = store_of(client).registry
    with pytest.raises(EntityDeletedError):
        registry.change_stage(v1.id, "staging", actor="x")
    with pytest.raises(EntityDeletedError):
        client.delete_model_version(v1.id)


def test_the_versions_of_a_deleted_model_refuse_commands(client: Client) -> None:
    client.create_model("iris")
    v2 = client.create_model_version("iris")
    client.delete_model("iris")
    registry = store_of(client).registry
    with pytest.raises(EntityDeletedError):
        registry.change_stage(v2.id, "production", actor="x")
    with pytest.raises(EntityDeletedError):
        registry.log_metadata(v2.id, {"a": 1}, actor="x")


@pytest.fixture
def handle_versions(client: Client) -> None:
    """Model ``iris_classifier``: versions "1.2.3" (number 1) and "2"."""
    client.create_model("iris_classifier")
    client.create_model_version("iris_classifier", name="1.2.3")
    client.create_model_version("iris_classifier")


@pytest.mark.usefixtures("handle_versions")
def test_model_handle_resolves_and_promotes_like_the_seed(client: Client) -> None:
    model = Model(name="iris_classifier", version="1.2.3")
    model.set_stage(stage=ModelStages.PRODUCTION)
    assert model.stage == ModelStages.PRODUCTION and model.number == 1
    latest_model = Model(name="iris_classifier", version=ModelStages.LATEST)
    latest_model.set_stage(stage=ModelStages.STAGING)
    assert latest_model.version == "2" and latest_model.number == 2
    assert latest_model.stage == ModelStages.STAGING
    with pytest.raises(StageOccupiedError):
        Model(name="iris_classifier", version="2").set_stage(ModelStages.PRODUCTION)
    Model(name="iris_classifier", version="2").set_stage(ModelStages.PRODUCTION, force=True)
    assert Model(name="iris_classifier", version=ModelStages.PRODUCTION).number == 2


@pytest.mark.usefixtures("handle_versions")
def test_looking_at_a_model_handle_creates_no_version(client: Client) -> None:
    head = log_head(client)
    assert Model(name="iris_classifier").id is not None
    assert log_head(client) == head, "looking at a Model never creates a version"


@pytest.fixture
def metadata_logged(handle_versions: None) -> None:
    """On ``iris_classifier`` "1.2.3": evaluation_metrics (0.9 with per_class, then 0.95) and
    n = 20."""
    log_metadata(
        metadata={"evaluation_metrics": {"accuracy": 0.9, "per_class": {"a": 1}}, "n": 20},
        model_name="iris_classifier",
        model_version="1.2.3",
    )
    log_metadata(
        metadata={"evaluation_metrics": {"accuracy": 0.95}},
        model_name="iris_classifier",
        model_version="1.2.3",
    )


@pytest.mark.usefixtures("metadata_logged")
def test_metadata_latest_value_and_full_history(client: Client) -> None:
    model = Client().get_model_version("iris_classifier", "1.2.3")
    metrics = model.run_metadata["evaluation_metrics"].value
    assert metrics == {"accuracy": 0.95}, "a later value replaces the key, no stale sub-keys"
    assert model.run_metadata["n"].value == 20
    history = model.run_metadata["evaluation_metrics"].history
    assert [entry.value["accuracy"] for entry in history] == [0.9, 0.95]
    assert history[0].actor == "tester" and history[0].position < history[1].position
    assert Model(name="iris_classifier", version="1.2.3").run_metadata["n"].value == 20


@pytest.mark.usefixtures("handle_versions")
def test_metadata_logged_to_the_latest_version_by_stage_selector(client: Client) -> None:
    log_metadata({"by_stage": True}, model_name="iris_classifier", model_version=ModelStages.LATEST)
    assert client.get_model_version("iris_classifier").run_metadata["by_stage"].value is True
    assert "by_stage" not in client.get_model_version("iris_classifier", "1.2.3").run_metadata


@pytest.mark.usefixtures("handle_versions")
def test_metadata_without_a_target_or_not_json_is_refused(client: Client) -> None:
    before = log_head(client)
    with pytest.raises(ValidationError):
        log_metadata({"x": object()}, model_name="iris_classifier", model_version="1.2.3")
    with pytest.raises(ValidationError):
        log_metadata({"x": 1})
    with pytest.raises(ValidationError):
        log_metadata({"x": 1}, infer_model=True)
    assert log_head(client) == before


@dataclass
class Promotions:
    """Model ``iris``: 1 promoted (reason "first"), 2 forced in ("better"), 3 to staging."""

    started: datetime  # before the first promotion
    first: ModelVersionResponse  # what the first promotion returned
    after_first: int  # the log head after the first promotion
    after_second: int  # and after the forced one


@pytest.fixture
def promotions(client: Client) -> Promotions:
    client.create_model("iris")
    for _ in range(3):
        client.create_model_version("iris")
    t0 = datetime.now(UTC)
    p1 = client.update_model_version("iris", 1, stage="production", reason="first")
    pos1 = log_head(client)
    client.update_model_version("iris", 2, stage="production", force=True, reason="better")
    pos2 = log_head(client)
    client.update_model_version("iris", 3, stage="staging")
    return Promotions(t0, p1, pos1, pos2)


def test_stage_history_lists_every_move_in_order(client: Client, promotions: Promotions) -> None:
    t0, p1 = promotions.started, promotions.first
    history = client.get_stage_history("iris")
    assert [(h.version, h.previous_stage, h.stage, h.displaced_version) for h in history] == [
        ("1", "none", "production", None),
        ("1", "production", "archived", None),
        ("2", "none", "production", "1"),
        ("3", "none", "staging", None),
    ]
    assert [h.position for h in history] == sorted(h.position for h in history)
    assert history[0].reason == "first" and history[2].reason == "better"
    assert history[0].actor == "tester" and history[0].timestamp >= t0
    assert p1.stage == ModelStages.PRODUCTION


def test_time_travel_by_position(client: Client, promotions: Promotions) -> None:
    pos1, pos2 = promotions.after_first, promotions.after_second
    history = client.get_stage_history("iris")
    then = client.get_model_version("iris", ModelStages.PRODUCTION, at=pos1)
    assert then.name == "1" and then.stage == ModelStages.PRODUCTION
    assert client.get_model_version("iris", ModelStages.PRODUCTION, at=pos2).name == "2"
    assert client.get_model_version("iris", "1", at=pos1).stage == ModelStages.PRODUCTION
    assert client.get_model_version("iris", "1", at=pos2).stage == ModelStages.ARCHIVED
    with pytest.raises(NotFoundError):  # just before the promotion's transaction
        client.get_model_version("iris", ModelStages.PRODUCTION, at=history[0].position - 1)


def test_time_travel_by_timestamp(client: Client, promotions: Promotions) -> None:
    t0 = promotions.started
    history = client.get_stage_history("iris")
    assert (
        client.get_model_version("iris", ModelStages.PRODUCTION, at=history[0].timestamp).name
        == "1"
    )
    with pytest.raises(NotFoundError):
        client.get_model_version("iris", ModelStages.PRODUCTION, at=t0 - timedelta(days=1))
    assert (
        client.get_model_version("iris", ModelStages.PRODUCTION, at=datetime.now(UTC)).name == "2"
    )


@pytest.fixture
def first_life(client: Client) -> list[StageChange]:
    """Model ``iris``: version 1 promoted to production; the history before deleting the
    model (reason "retired")."""
    client.create_model("iris")
    client.create_model_version("iris")
    client.update_model_version("iris", 1, stage="production")
    history = client.get_stage_history("iris")
    client.delete_model("iris", reason="retired")
    return history


def test_a_deleted_model_takes_its_holder_out_of_the_stage_in_the_history(
    client: Client, first_life: list[StageChange]
) -> None:
    # the holder leaves production with its model: the history says so
    after = client.get_stage_history("iris")
    assert after[:-1] == first_life
    assert (after[-1].version, after[-1].previous_stage, after[-1].stage) == (
        "1",
        ModelStages.PRODUCTION,
        "deleted",
    )
    assert (after[-1].actor, after[-1].reason) == ("tester", "retired")
    old_events = client.list_events(model="iris")
    assert old_events[-1].type == "Model.Deleted" and old_events[-1].payload["reason"] == "retired"


@pytest.mark.usefixtures("first_life")
def test_a_second_life_of_a_name_counts_again_and_shares_the_history(client: Client) -> None:
    old_events = client.list_events(model="iris")
    client.create_model("iris")
    v = client.create_model_version("iris")
    assert v.number == 1, "a new life of a name starts counting again"
    client.update_model_version("iris", 1, stage="staging")
    assert len(client.get_stage_history("iris")) == 3
    both = client.list_events(model="iris")
    assert [e.position for e in both[: len(old_events)]] == [e.position for e in old_events]
    assert len({e.model_id for e in both}) == 2


@pytest.fixture
def two_models_logged(client: Client) -> ModelVersionResponse:
    """Models ``iris`` (license MIT) and ``other``; version 1 of iris (returned)."""
    client.create_model("iris", license="MIT")
    client.create_model("other")
    return client.create_model_version("iris")


def test_list_events_is_the_raw_log(
    client: Client, two_models_logged: ModelVersionResponse
) -> None:
    v = two_models_logged
    events = client.list_events()
    assert [e.position for e in events] == sorted(e.position for e in events)
    types = [e.type for e in events]
    assert "Model.Registered" in types and "ModelVersion.Created" in types
    registered = next(e for e in events if e.type == "Model.Registered")
    assert registered.payload["name"] == "iris" and registered.actor == "tester"
    assert registered.payload["fields"] == {"license": "MIT"}
    created = next(e for e in events if e.type == "ModelVersion.Created")
    assert created.originator_id == v.id and created.payload["number"] == 1


def test_list_events_after_a_position_and_limited(
    client: Client, two_models_logged: ModelVersionResponse
) -> None:
    events = client.list_events()
    assert client.list_events(after=events[1].position, limit=2) == events[2:4]


@pytest.mark.usefixtures("two_models_logged")
def test_list_events_of_one_model(client: Client) -> None:
    iris_only = client.list_events(model="iris")
    assert all(e.model_id == client.get_model("iris").id for e in iris_only)
    assert not any(e.payload.get("name") == "other" for e in iris_only)


def test_rebuild_gives_the_same_tables(client: Client) -> None:
    from tests.projection_tables import dump_tables

    client.create_model("iris", tags=["a"])
    for _ in range(4):
        client.create_model_version("iris")
    client.update_model_version("iris", 1, stage="production")
    client.update_model_version("iris", 2, stage="production", force=True)
    client.update_model_version("iris", 3, name="three", description="d", add_tags=["x"])
    log_metadata({"m": 1}, model_name="iris", model_version="three")
    client.delete_model_version(client.get_model_version("iris", 4).id)
    client.update_model("iris", add_tags=["b"])
    engine = store_of(client).engine
    with engine.connect() as conn:
        live = dump_tables(conn)
    progress: list[tuple[int, int]] = []
    result = client.rebuild_projections(progress=lambda done, total: progress.append((done, total)))
    assert result.events == log_head(client) and progress[-1][0] == progress[-1][1]
    with engine.connect() as conn:
        assert dump_tables(conn) == live


def test_replay_until_into_a_file_shows_the_past(client: Client, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import create_engine, text

    client.create_model("iris")
    client.create_model_version("iris")
    client.update_model_version("iris", 1, stage="production")
    cut = log_head(client)
    client.create_model_version("iris")
    client.update_model_version("iris", 2, stage="production", force=True)
    target = tmp_path / "past.db"
    result = client.rebuild_projections(until=cut, into=target)
    assert result.position == cut and result.target == str(target)
    engine = create_engine(f"sqlite:///{target}")
    with engine.connect() as conn:
        rows = conn.execute(text("select number, stage from mp_model_versions")).all()
    engine.dispose()
    assert rows == [(1, "production")]
    assert client.get_model_version("iris", "production").number == 2, "live tables untouched"


def test_renamed_model_keeps_its_history_under_both_names(client: Client) -> None:
    client.create_model("a")
    client.create_model_version("a")
    client.update_model_version("a", 1, stage="production")
    before_rename = log_head(client)
    client.update_model("a", name="b")
    client.create_model_version("b")
    client.update_model_version("b", 2, stage="production", force=True)
    assert len(client.get_stage_history("a")) == len(client.get_stage_history("b")) == 3
    assert client.list_events(model="a") == client.list_events(model="b")
    assert client.get_model_version("a", "production", at=before_rename).number == 1
    with pytest.raises(NotFoundError):
        client.get_model_version("a", "production", at=log_head(client))
    assert client.get_model_version("b", "production", at=log_head(client)).number == 2
    client.create_model("a")  # the old name is free again: a second model
    assert len(client.get_stage_history("a")) == 3


def test_replaying_live_tables_to_the_past_is_refused(client: Client) -> None:
    client.create_model("iris")
    with pytest.raises(ValidationError, match="--into"):
        client.rebuild_projections(until=1)
