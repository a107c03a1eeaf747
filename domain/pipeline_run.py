"""The ``PipelineRun`` aggregate: one run of a pipeline (or of a single step), start to end.

A run records the model version it ran against and how it got it (created for the run,
named explicitly, or resolved from a stage), every step's inputs and outputs as artifact
version ids, and how it ended. A process killed mid-run leaves the run ``running``; it can
be marked failed later.
"""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

RUNNING = "running"
COMPLETED = "completed"
FAILED = "failed"

#: How a run obtained its model version.
CREATED = "created"
NAMED = "named"
FROM_STAGE = "stage"
HOWS: tuple[str, ...] = (CREATED, NAMED, FROM_STAGE)


class PipelineRun(Aggregate, created_event_name="Started"):
    TOPIC: ClassVar[str] = "modelplane:PipelineRun"

    class Created(Aggregate.Created):
        """Never stored: the library requires a topic on its base "created" class."""

        TOPIC: ClassVar[str] = "modelplane:PipelineRun.Created"

    class Started(Created):
        TOPIC: ClassVar[str] = "modelplane:PipelineRun.Started"
        name: str
        pipeline: str
        model_id: str | None
        model_version_id: str | None
        model_version_how: str | None
        stage: str | None
        parameters: dict[str, Any]
        actor: str

    class StepFinished(Aggregate.Event):
        """A step ran; ``inputs`` and ``outputs`` map names to artifact version ids."""

        TOPIC: ClassVar[str] = "modelplane:PipelineRun.StepFinished"
        step: str
        status: str
        inputs: dict[str, str]
        outputs: dict[str, str]
        duration_ms: float
        error: str | None

    class MetadataLogged(Aggregate.Event):
        TOPIC: ClassVar[str] = "modelplane:PipelineRun.MetadataLogged"
        step: str | None
        metadata: dict[str, Any]
        actor: str

    class Finished(Aggregate.Event):
        TOPIC: ClassVar[str] = "modelplane:PipelineRun.Finished"
        status: str
        error: str | None
        actor: str

    def __init__(
        self,
        name: str,
        pipeline: str,
        model_id: str | None,
        model_version_id: str | None,
        model_version_how: str | None,
        stage: str | None,
        parameters: dict[str, Any],
        actor: str,
    ) -> None:
        self.name = name
        self.model_version_id = model_version_id
        self.status = RUNNING
        self.steps: list[str] = []

    @staticmethod
    def create_id(**_: Any) -> UUID:
        return uuid4()

    @event(StepFinished)
    def _finish_step(
        self,
        step: str,
        status: str,
        inputs: dict[str, str],
        outputs: dict[str, str],
        duration_ms: float,
        error: str | None,
    ) -> None:
        self.steps.append(step)

    @event(MetadataLogged)
    def _log_metadata(self, step: str | None, metadata: dict[str, Any], actor: str) -> None:
        """The metadata projection keeps the values."""

    @event(Finished)
    def _finish(self, status: str, error: str | None, actor: str) -> None:
        self.status = status
        self.error = error
