"""The rules ``PipelineRun`` keeps: an ended run records no more steps and no second end."""

from __future__ import annotations

from uuid import uuid4

import pytest

from modelplane.domain.errors import RunEndedError, ValidationError
from modelplane.domain.pipeline_run import PipelineRun


def a_run() -> PipelineRun:
    run = PipelineRun.start(name="nightly", pipeline="train", actor="me")
    run.collect_events()
    return run


def test_a_run_can_be_given_its_id_up_front() -> None:
    run_id = uuid4()
    version_id = uuid4()
    run = PipelineRun.start(
        name="nightly",
        pipeline="train",
        model_version_id=version_id,
        model_version_how="created",
        parameters={"lr": 0.1},
        actor="me",
        run_id=run_id,
    )
    (started,) = run.collect_events()
    assert run.id == run_id and run.status == "running"
    assert started.model_version_id == str(version_id)  # type: ignore[attr-defined]
    assert started.parameters == {"lr": 0.1}  # type: ignore[attr-defined]


def test_a_run_with_a_model_version_must_say_how_it_got_it() -> None:
    with pytest.raises(ValidationError, match="model_version_how must be one of"):
        PipelineRun.start(name="r", pipeline="p", model_version_id=uuid4(), actor="me")


def test_steps_are_recorded_while_running_and_failed_by_an_error() -> None:
    run = a_run()
    data, model = uuid4(), uuid4()
    run.finish_step("train", inputs={"data": data}, outputs={"model": model}, duration_ms=5)
    run.finish_step("eval", inputs={"model": model}, outputs={}, duration_ms=1, error="boom")
    train, evaluation = run.collect_events()
    assert (train.status, train.inputs, train.outputs) == (  # type: ignore[attr-defined]
        "completed",
        {"data": str(data)},
        {"model": str(model)},
    )
    assert (evaluation.status, evaluation.error) == ("failed", "boom")  # type: ignore[attr-defined]
    assert run.steps == ["train", "eval"] and run.status == "running"


def test_a_finished_run_refuses_steps_and_a_second_end() -> None:
    run = a_run()
    run.finish(status="failed", error="killed", actor="me")
    (finished,) = run.collect_events()
    assert (finished.status, finished.error) == ("failed", "killed")  # type: ignore[attr-defined]
    refused = [
        lambda: run.finish(status="completed", actor="me"),
        lambda: run.finish_step("late", inputs={}, outputs={}, duration_ms=1),
    ]
    for command in refused:
        with pytest.raises(RunEndedError) as raised:
            command()
        assert str(raised.value) == "Pipeline run 'nightly' already ended (failed)."
        assert (raised.value.status, raised.value.error) == ("failed", "killed")
    assert run.collect_events() == []


def test_metadata_may_still_be_logged_on_an_ended_run() -> None:
    run = a_run()
    run.finish(status="completed", actor="me")
    run.log_metadata({"k": 1}, step="eval", actor="me")
    assert [type(e).__name__ for e in run.collect_events()] == ["Finished", "MetadataLogged"]


def test_a_run_ends_only_as_completed_or_failed() -> None:
    run = a_run()
    with pytest.raises(ValidationError, match="not 'running'"):
        run.finish(status="running", actor="me")
    assert run.collect_events() == [] and run.status == "running"


def test_a_run_from_an_old_snapshot_without_an_error_still_refuses() -> None:
    """Snapshots taken before runs kept their error lack the attribute."""
    run = a_run()
    run.finish(status="completed", actor="me")
    del run.error
    with pytest.raises(RunEndedError) as raised:
        run.finish_step("late", inputs={}, outputs={}, duration_ms=1)
    assert raised.value.error is None
