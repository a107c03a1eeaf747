"""Running pipelines and steps locally, in order, against the registry.

A run is prepared before anything is written: its id, name and start time are fixed, the
model's version name is rendered from them, and the model version is found or created. Only
then does ``start_run`` append; a run that cannot get its model version (nobody holds the
stage asked for, a bad template) leaves no run behind. Each step call runs at once (eager
execution): its inputs are loaded, its function runs inside a step context, its outputs are
stored, then recorded one ``record_artifact_version`` each (the link to the model version in
the same transaction), then ``finish_step``. A failure records the step and the run as
failed and re-raises the user's own exception.
"""

from __future__ import annotations

import contextlib
import inspect
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import orjson

from modelplane.domain import pipeline_run
from modelplane.domain.errors import (
    EntityExistsError,
    NotFoundError,
    RunEndedError,
    ValidationError,
)
from modelplane.domain.model_card import DESCRIPTIVE_FIELDS
from modelplane.domain.stages import selected_stage
from modelplane.projections.queries.ids import as_uuid

from .. import backend as backends
from ..artifacts.artifact_config import ArtifactConfig
from ..backend.interface import Backend
from ..model import Model
from ..responses import ArtifactVersionResponse
from . import context
from .context import ActiveRun, ResolvedModel, StepContext
from .handles import LazyArtifact, StepArtifact
from .naming import RunNaming, run_start_time
from .outputs import DEFAULT_OUTPUT, OutputSpec, names_of, split_outputs

# ------------------------------------------------------------------------------ runs


def prepare_run(
    pipeline: str, model: Model | None, substitutions: dict[str, str] | None
) -> tuple[RunNaming, ResolvedModel | None]:
    """Fix the run's id, time and name, and resolve its model version (may create it)."""
    naming = RunNaming(
        run_id=uuid4(),
        pipeline=pipeline,
        started=run_start_time(),
        substitutions={str(k): str(v) for k, v in (substitutions or {}).items()},
    )
    resolved = None if model is None else resolve_model(model, naming, pipeline)
    return naming, resolved


def start_run(
    pipeline: str,
    model: Model | None,
    substitutions: dict[str, str] | None,
    parameters: dict[str, Any],
) -> ActiveRun:
    naming, resolved = prepare_run(pipeline, model, substitutions)
    backends.current().start_run(
        naming.run_id,
        naming.run_name,
        pipeline=pipeline,
        model_version_id=None if resolved is None else resolved.version_id,
        model_version_how=None if resolved is None else resolved.how,
        stage=None if resolved is None else resolved.stage,
        parameters=_json_parameters(parameters),
    )
    return ActiveRun(naming.run_id, naming.run_name, pipeline, naming, resolved)


def finish_run(run: ActiveRun, error: BaseException | None) -> None:
    """End the run; a failure to record the end never hides the user's own exception."""
    backend = backends.current()
    if error is None:
        try:
            backend.finish_run(run.run_id, status=pipeline_run.COMPLETED)
        except RunEndedError as ended:
            raise _stopped(run, ended, "its last step ran") from None
        return
    if isinstance(error, RunEndedError):
        return  # ended from outside: nothing left to record
    try:
        backend.finish_run(run.run_id, status=pipeline_run.FAILED, error=describe(error))
    except RunEndedError:
        return  # ended from outside meanwhile: it does not stay running
    except Exception as failure:  # the user's exception matters more: keep it, say why
        warnings.warn(
            f"Could not mark run '{run.name}' failed ({describe(failure)}); it stays running.",
            RuntimeWarning,
            stacklevel=3,
        )


def _stopped(run: ActiveRun, ended: RunEndedError, during: str) -> RunEndedError:
    """What a pipeline whose run was ended from outside (``run mark-failed``) stops with: the
    registry's refusal, saying what happened instead of "already ended"."""
    why = f": {ended.error}" if ended.error else ""
    msg = (
        f"Pipeline run '{run.name}' was ended from outside ({ended.status}{why}) while "
        f"{during}; the pipeline stopped."
    )
    return RunEndedError(msg, status=ended.status, error=ended.error)


@contextmanager
def active_run(run: ActiveRun) -> Iterator[ActiveRun]:
    """``run`` is the current run inside the block; it ends completed, or failed and re-raised."""
    token = context._run.set(run)
    try:
        yield run
    except BaseException as error:
        finish_run(run, error)
        raise
    else:
        finish_run(run, None)
    finally:
        context._run.reset(token)


def describe(error: BaseException) -> str:
    """``Type: message``, as the log records a failure (NUL and lone surrogates, which no
    store can hold, are written as escapes)."""
    text = str(error).replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _json_parameters(parameters: dict[str, Any]) -> dict[str, Any]:
    """The pipeline's arguments that are plain JSON (others are not parameters to record)."""
    kept = {}
    for key, value in parameters.items():
        try:
            orjson.dumps(value)
        except TypeError:
            continue
        kept[key] = value
    return kept


# ---------------------------------------------------------------------------- models


def resolve_model(model: Model, naming: RunNaming, pipeline: str) -> ResolvedModel:
    """The model version a run (or a step with its own model) runs against.

    The model is registered on first use, with the fields the ``Model`` carries. No version:
    a new one for this run. A stage (``ModelStages.PRODUCTION``, "production", latest): its
    current holder, or an error naming the model. A number or an id: that version, which
    must exist. A name (templates rendered first): that version, created if it does not
    exist yet.
    """
    backend = backends.current()
    selector = model.requested_version  # what was asked for, never a resolved name
    stage = _stage_of(selector)
    by_id = as_uuid(selector)  # an id (``model_version_id``) must exist, like a number
    exact = isinstance(selector, int) or by_id is not None
    template = None
    if stage is None and not exact and isinstance(selector, str):
        template = naming.render(selector)  # before anything is written

    model_id = backend.model_id_for_name(model.name)
    if model_id is None:
        if stage is not None or exact:
            msg = (
                f"Pipeline '{pipeline}' needs version '{selector}' of model '{model.name}', "
                f"but no model named '{model.name}' exists; nothing was run."
            )
            raise NotFoundError(msg)
        model_id = _register(backend, model)

    if stage is not None:
        try:
            found = backend.get_model_version(model_id, stage)
        except NotFoundError:
            msg = (
                f"Pipeline '{pipeline}' needs the {stage} version of model '{model.name}', "
                f"but no version of '{model.name}' is in {stage}; nothing was run. Promote "
                f"one first, e.g. Model(name='{model.name}', version='1').set_stage('{stage}')."
            )
            raise NotFoundError(msg) from None
        return ResolvedModel(model, found.id, found.name, pipeline_run.FROM_STAGE, stage)
    if exact:
        try:
            found = backend.get_model_version(model_id, by_id or selector)
        except NotFoundError:
            which = f"with id {by_id}" if by_id is not None else f"number {selector}"
            msg = f"Model '{model.name}' has no version {which}; nothing was run."
            raise NotFoundError(msg) from None
        return ResolvedModel(model, found.id, found.name, pipeline_run.NAMED, None)
    if template is None:
        created = backend.create_model_version(
            model_id, None, None, model.tags, model.source, model.run_id, model.run_link
        )
        return ResolvedModel(model, created.id, created.name, pipeline_run.CREATED, None)
    for _ in range(3):  # get-or-create; a concurrent creator of the same name wins
        try:
            found = backend.get_model_version(model_id, template)
            return ResolvedModel(model, found.id, found.name, pipeline_run.NAMED, None)
        except NotFoundError:
            pass
        try:
            created = backend.create_model_version(
                model_id, template, None, model.tags, model.source, model.run_id, model.run_link
            )
        except EntityExistsError:
            continue
        return ResolvedModel(model, created.id, template, pipeline_run.CREATED, None)
    msg = f"Could not get or create version '{template}' of model '{model.name}'."
    raise NotFoundError(msg)


def _stage_of(selector: object) -> str | None:
    """The stage a run's selector names; None (no version asked for) is not ``latest`` here."""
    return None if selector is None else selected_stage(selector)


def _register(backend: Backend, model: Model) -> UUID:
    fields = {field: getattr(model, field) for field in DESCRIPTIVE_FIELDS}
    try:
        return backend.create_model(model.name, fields, model.tags).id
    except EntityExistsError:  # registered concurrently: use that one
        found = backend.model_id_for_name(model.name)
        if found is None:
            raise
        return found


def step_model(run: ActiveRun, model: Model | None) -> ResolvedModel | None:
    """A step's model version: its own ``model=`` (resolved once per run), else the run's."""
    if model is None:
        return run.model
    if run.model is not None and _same_model(run.model.model, model):
        return run.model
    key = (model.name, repr(model.requested_version))
    found = run.step_models.get(key)
    if found is None:
        found = run.step_models[key] = resolve_model(model, run.naming, run.pipeline)
    return found


def _same_model(a: Model, b: Model) -> bool:
    return a is b or (a.name == b.name and a.requested_version == b.requested_version)


# ----------------------------------------------------------------------------- steps


@dataclass
class StepResult:
    value: Any
    outputs: list[StepArtifact]


def run_step(
    run: ActiveRun,
    name: str,
    func: Callable[..., Any],
    specs: list[OutputSpec] | None,
    model: Model | None,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> StepResult:
    """Run one step of ``run`` now; on failure the step is recorded failed and re-raised."""
    backend = backends.current()
    step_name = run.unique_step_name(name)
    started = time.perf_counter()
    inputs: dict[str, UUID] = {}
    saved: list[StepArtifact] = []

    def finish(error: str | None) -> None:
        backend.finish_step(
            run.run_id,
            step_name,
            inputs=inputs,
            outputs={a.name: a.id for a in saved},
            duration_ms=(time.perf_counter() - started) * 1000,
            error=error,
        )

    try:
        resolved = step_model(run, model)
        bound = inspect.signature(func).bind(*args, **kwargs)
        call_args = _load_inputs(bound, inputs)
        step = StepContext(run, step_name, resolved, names_of(specs))
        token = context._step.set(step)
        try:
            value = func(*call_args.args, **call_args.kwargs)
        finally:
            context._step.reset(token)
        values = split_outputs(step_name, specs, value)
        named = specs if specs is not None else [OutputSpec(DEFAULT_OUTPUT, ArtifactConfig())]
        stored = [backend.store_artifact(v) for v in values]  # all stored, then recorded
        link_to = None if resolved is None else resolved.version_id
        for spec, item in zip(named, stored, strict=False):
            recorded = backend.record_artifact_version(
                spec.name,
                item,
                tags=spec.config.tags,
                run_id=run.run_id,
                step=step_name,
                link_to=link_to,
                link_kind=spec.config.link_kind(default=item.artifact_type),
            )
            saved.append(
                StepArtifact(spec.name, recorded.id, recorded.number, step_name, run.run_id, item)
            )
    except BaseException as error:
        with contextlib.suppress(RunEndedError):  # ended from outside: the error says why
            finish(error=describe(error))
        raise
    try:
        finish(error=None)
    except RunEndedError as ended:
        raise _stopped(run, ended, f"step '{step_name}' ran") from None
    _log_output_metadata(backend, step, named, saved)
    return StepResult(value, saved)


def _log_output_metadata(
    backend: Backend, step: StepContext, specs: list[OutputSpec], saved: list[StepArtifact]
) -> None:
    """Metadata the step asked for on its outputs (``infer_artifact``, ``ArtifactConfig``)."""
    by_name = {a.name: a for a in saved}
    pending = [(s.name, s.config.run_metadata) for s in specs if s.config.run_metadata]
    pending += step.deferred_metadata
    if not pending:
        return
    for name, metadata in pending:
        artifact = by_name.get(name)
        if artifact is None:
            continue  # the step returned None for an unannotated output
        backend.log_artifact_metadata(
            artifact.id, metadata, run_id=step.run_id, step=step.step_name
        )


def _load_inputs(bound: inspect.BoundArguments, inputs: dict[str, UUID]) -> inspect.BoundArguments:
    """Artifact handles replaced by their values; each one read is recorded as an input."""
    parameters = bound.signature.parameters
    for name, value in list(bound.arguments.items()):
        kind = parameters[name].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            bound.arguments[name] = tuple(
                _load(f"{name}_{i}", item, inputs) for i, item in enumerate(value)
            )
        elif kind is inspect.Parameter.VAR_KEYWORD:
            bound.arguments[name] = {k: _load(k, v, inputs) for k, v in value.items()}
        else:
            bound.arguments[name] = _load(name, value, inputs)
    return bound


def _load(name: str, value: Any, inputs: dict[str, UUID]) -> Any:
    if isinstance(value, StepArtifact):
        inputs[name] = value.id
        return value.load()
    if isinstance(value, LazyArtifact):
        value = value.resolve()
    if isinstance(value, ArtifactVersionResponse):
        inputs[name] = value.id
        return value.load()
    return value


def standalone_step(
    name: str,
    func: Callable[..., Any],
    specs: list[OutputSpec] | None,
    model: Model | None,
    substitutions: dict[str, str] | None,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    """A step called outside a pipeline: a one-step run of its own; returns its value."""
    run = start_run(name, model, substitutions, {})
    with active_run(run):
        result = run_step(run, name, func, specs, None, args, kwargs)
    return result.value


def check_not_nested() -> None:
    """Runs do not nest: a pipeline started inside a step or a pipeline is refused."""
    if context.current_run() is not None:
        msg = "A pipeline cannot be run from inside another pipeline or a step."
        raise ValidationError(msg)
