"""The run and step that are executing now, as ``get_pipeline_context`` / ``get_step_context``.

They live in context variables (not globals) so threads and asyncio tasks each see their own
run. ``current_step()`` is what ``save_artifact``, ``log_metadata`` and
``link_artifact_to_model`` ask to learn whether they were called inside a step, and which run,
step and model version to attach to; it imports nothing heavy, so they can call it freely.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from uuid import UUID

from modelplane.domain.errors import ValidationError
from modelplane.domain.model_card import DESCRIPTIVE_FIELDS

from ..enums import ArtifactType
from ..model import Model
from .handles import LazyArtifact

if TYPE_CHECKING:
    from ..responses import PipelineRunResponse
    from .naming import RunNaming

STEP_CONTEXT_ERROR = "The step context is only available inside a step function."
PIPELINE_CONTEXT_ERROR = (
    "No active pipeline found: get_pipeline_context() is only available while a pipeline "
    "(or a step run on its own) is running."
)


@dataclass(frozen=True)
class ResolvedModel:
    """A run's model version: the user's ``Model``, the version, and how the run got it."""

    model: Model
    version_id: UUID
    version_name: str
    how: str
    stage: str | None


class PipelineModel(Model):
    """The run's ``Model`` as the pipeline body sees it: artifact lookups are lazy.

    ``get_model_artifact("trained_model")`` written in the pipeline body returns a
    ``LazyArtifact``, resolved when the step that receives it runs (ZenML's behaviour);
    everything else reads the run's resolved version.
    """

    def _lazy(self, name: str, version: str | int | None, kind: str | None) -> LazyArtifact:
        assert self._version_id is not None
        return LazyArtifact(self.name, self._version_id, name, version, kind)

    def get_artifact(  # type: ignore[override]
        self, name: str, version: str | int | None = None
    ) -> LazyArtifact:
        return self._lazy(name, version, None)

    def get_model_artifact(  # type: ignore[override]
        self, name: str, version: str | int | None = None
    ) -> LazyArtifact:
        return self._lazy(name, version, ArtifactType.MODEL.value)

    def get_data_artifact(  # type: ignore[override]
        self, name: str, version: str | int | None = None
    ) -> LazyArtifact:
        return self._lazy(name, version, ArtifactType.DATA.value)

    def get_deployment_artifact(  # type: ignore[override]
        self, name: str, version: str | int | None = None
    ) -> LazyArtifact:
        return self._lazy(name, version, ArtifactType.DEPLOYMENT.value)


@dataclass
class ActiveRun:
    """A run in progress: its id and name (fixed before it started) and its model version."""

    run_id: UUID
    name: str
    pipeline: str
    naming: RunNaming
    model: ResolvedModel | None
    #: Models of steps that name their own, resolved once per run: (name, version) -> model.
    step_models: dict[tuple[str, str], ResolvedModel] = field(default_factory=dict)
    step_names: set[str] = field(default_factory=set)

    def unique_step_name(self, name: str) -> str:
        """``name``, or ``name_2``, ``name_3``... when a pipeline calls a step again."""
        candidate, n = name, 1
        while candidate in self.step_names:
            n += 1
            candidate = f"{name}_{n}"
        self.step_names.add(candidate)
        return candidate


@dataclass(frozen=True)
class StepRunInfo:
    """The step being run (it has no record of its own until it finishes)."""

    name: str
    pipeline_run_id: UUID
    model_version_id: UUID | None


class PipelineContext:
    """What the pipeline body can ask about its run."""

    def __init__(self, run: ActiveRun) -> None:
        self._run = run
        self._model: PipelineModel | None = None

    @property
    def name(self) -> str:
        return self._run.pipeline

    @property
    def run_name(self) -> str:
        return self._run.name

    @property
    def run_id(self) -> UUID:
        return self._run.run_id

    @property
    def model(self) -> PipelineModel | None:
        """The run's model, resolved to the run's version (None when the run has no model)."""
        resolved = self._run.model
        if resolved is None:
            return None
        if self._model is None:
            self._model = _bound(PipelineModel, resolved)
        return self._model


class StepContext:
    """What a step can ask about itself: its run, its name and its model version."""

    def __init__(
        self, run: ActiveRun, step_name: str, model: ResolvedModel | None, outputs: list[str]
    ) -> None:
        self.run = run
        self.step_name = step_name
        self.output_names = outputs
        self._resolved = model
        self._model: Model | None = None
        #: log_metadata(infer_artifact=True) before the outputs exist: (output, metadata).
        self.deferred_metadata: list[tuple[str, dict[str, Any]]] = []

    @property
    def model(self) -> Model | None:
        """The step's model (its own, else the run's), resolved to this run's version."""
        if self._resolved is None:
            return None
        if self._model is None:
            self._model = _bound(Model, self._resolved)
        return self._model

    @property
    def model_version_id(self) -> UUID | None:
        return None if self._resolved is None else self._resolved.version_id

    @property
    def run_id(self) -> UUID:
        return self.run.run_id

    @property
    def pipeline(self) -> str:
        return self.run.pipeline

    @property
    def pipeline_run(self) -> PipelineRunResponse:
        from ..client import Client

        return Client().get_pipeline_run(self.run.run_id)

    @property
    def step_run(self) -> StepRunInfo:
        return StepRunInfo(self.step_name, self.run.run_id, self.model_version_id)

    def defer_artifact_metadata(self, metadata: dict[str, Any], artifact_name: str | None) -> None:
        """Keep metadata for an output of this step; it is logged once the output is recorded."""
        if artifact_name is None:
            if len(self.output_names) != 1:
                msg = (
                    f"Step '{self.step_name}' has {len(self.output_names)} outputs "
                    f"({', '.join(self.output_names) or 'none'}); with infer_artifact=True "
                    "pass artifact_name= to say which one the metadata is for."
                )
                raise ValidationError(msg)
            artifact_name = self.output_names[0]
        elif artifact_name not in self.output_names:
            msg = (
                f"Step '{self.step_name}' has no output named '{artifact_name}'; its outputs "
                f"are: {', '.join(self.output_names) or 'none'}."
            )
            raise ValidationError(msg)
        from modelplane.domain.validation import clean_metadata

        self.deferred_metadata.append((artifact_name, clean_metadata(metadata)))


def _bound(cls: type[Model], resolved: ResolvedModel) -> Any:
    """A fresh ``Model`` naming the resolved version (the user's own object stays untouched)."""
    source = resolved.model
    card = {field: getattr(source, field) for field in DESCRIPTIVE_FIELDS}
    model = cls(name=source.name, version=resolved.version_name, tags=source.tags, **card)
    model._version_id = resolved.version_id
    model._version_name = resolved.version_name
    return model


_run: ContextVar[ActiveRun | None] = ContextVar("modelplane_run", default=None)
_step: ContextVar[StepContext | None] = ContextVar("modelplane_step", default=None)


def current_run() -> ActiveRun | None:
    """The run executing now in this thread or task, if any."""
    return _run.get()


def current_step() -> StepContext | None:
    """The step executing now in this thread or task, if any."""
    return _step.get()


def get_step_context() -> StepContext:
    """The running step's context; outside a step this is an error (ZenML's wording)."""
    step = _step.get()
    if step is None:
        raise RuntimeError(STEP_CONTEXT_ERROR)
    return step


def get_pipeline_context() -> PipelineContext:
    """The running pipeline's context (its model, run name and id)."""
    run = _run.get()
    if run is None:
        raise RuntimeError(PIPELINE_CONTEXT_ERROR)
    return PipelineContext(run)
