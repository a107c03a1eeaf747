"""The ``PipelineRun`` aggregate: one run of a pipeline (or of a single step), start to end.

A run records the model version it ran against and how it got it (created for the run,
named explicitly, or resolved from a stage), every step's inputs and outputs as artifact
version ids, and how it ended. A process killed mid-run leaves the run ``running``; it can
be marked failed later. An ended run takes no more steps and no second end; metadata may
still be logged on it.
"""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from .errors import RunEndedError, ValidationError

RUNNING = "running"
COMPLETED = "completed"
FAILED = "failed"

#: How a run obtained its model version.
CREATED = "created"
NAMED = "named"
FROM_STAGE = "stage"
HOWS: tuple[str, ...] = (CREATED, NAMED, FROM_STAGE)


def check_end_status(status: object) -> None:
    """A run ends as ``completed`` or ``failed``."""
    if status not in (COMPLETED, FAILED):
        msg = f"A run ends as completed or failed, not '{status}'."
        raise ValidationError(msg)


def check_how(model_version_id: object, how: object) -> None:
    """A run given a model version says how it got it (one of ``HOWS``)."""
    if model_version_id is not None and how not in HOWS:
        msg = f"model_version_how must be one of {', '.join(HOWS)}."
        raise ValidationError(msg)


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

    # ----------------------------------------------------------------- commands

    @classmethod
    def start(
        cls,
        *,
        name: str,
        pipeline: str,
        model_id: UUID | str | None = None,
        model_version_id: UUID | str | None = None,
        model_version_how: str | None = None,
        stage: str | None = None,
        parameters: dict[str, Any] | None = None,
        actor: str,
        run_id: UUID | None = None,
    ) -> PipelineRun:
        """A running run; ``run_id`` fixes its id up front (a pipeline names its model version
        after the run before the run starts). Parameters are already encoded for the log."""
        check_how(model_version_id, model_version_how)
        return cls._create(
            cls.Started,
            id=run_id,
            name=name,
            pipeline=pipeline,
            model_id=None if model_id is None else str(model_id),
            model_version_id=None if model_version_id is None else str(model_version_id),
            model_version_how=model_version_how if model_version_id is not None else None,
            stage=stage,
            parameters=dict(parameters or {}),
            actor=actor,
        )

    def finish_step(
        self,
        step: str,
        *,
        inputs: dict[str, UUID],
        outputs: dict[str, UUID],
        duration_ms: float,
        error: str | None = None,
    ) -> None:
        """Record a step that ran (failed if ``error``); refused on an ended run."""
        self.check_running()
        self._finish_step(
            step=step,
            status=FAILED if error else COMPLETED,
            inputs={k: str(v) for k, v in inputs.items()},
            outputs={k: str(v) for k, v in outputs.items()},
            duration_ms=float(duration_ms),
            error=error,
        )

    def log_metadata(
        self, metadata: dict[str, Any], *, step: str | None = None, actor: str
    ) -> None:
        """Log metadata (already encoded for the log), during the run or after it ended."""
        self._log_metadata(step=step, metadata=metadata, actor=actor)

    def finish(self, *, status: str, error: str | None = None, actor: str) -> None:
        """End the run as completed or failed (how a stale run is marked failed, too)."""
        check_end_status(status)
        self.check_running()
        self._finish(status=status, error=error, actor=actor)

    def check_running(self) -> None:
        """Refuse recording on a run that already ended (``RunEndedError``)."""
        if self.status != RUNNING:
            msg = f"Pipeline run '{self.name}' already ended ({self.status})."
            # a snapshot taken before runs kept their error has none
            raise RunEndedError(msg, status=self.status, error=getattr(self, "error", None))

    # ------------------------------------------------------------------- events

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
