"""``log_metadata``: attach metadata to a model version, an artifact version or a run."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from modelplane.domain.errors import ValidationError

from .client import Client
from .enums import ModelStages
from .pipelines.context import current_step


def log_metadata(
    metadata: dict[str, Any],
    model_name: str | None = None,
    model_version: str | int | ModelStages | None = None,
    model_version_id: str | UUID | None = None,
    infer_model: bool = False,
    artifact_name: str | None = None,
    artifact_version: str | int | None = None,
    artifact_version_id: str | UUID | None = None,
    infer_artifact: bool = False,
    run_id_name_or_prefix: str | UUID | None = None,
) -> None:
    """Log ``metadata`` on a model version, an artifact version or a run.

    Later keys overwrite earlier ones for reading (``run_metadata[key].value``); the log keeps
    every value, and inside a step each value records the run and step that logged it.
    Inside a step: ``infer_model=True`` targets the step's model version,
    ``infer_artifact=True`` the step's output (``artifact_name=`` picks one of several; it is
    logged once the output is recorded), and no target at all the step's run. Outside a step,
    name the target: ``model_name`` (+ ``model_version``: a name, number, id or stage, default
    latest) or ``model_version_id``; ``artifact_name`` (+ ``artifact_version``, default
    newest) or ``artifact_version_id``; or ``run_id_name_or_prefix``.
    """
    step = current_step()
    run_id = None if step is None else step.run_id
    step_name = None if step is None else step.step_name
    if infer_model:
        if step is None or step.model_version_id is None:
            where = "outside a step" if step is None else f"in step '{step.step_name}'"
            msg = (
                "If you are using the `infer_model` option, the function must be called inside "
                f"a step with a model configured; {where} there is none: pass model_name and "
                "model_version instead."
            )
            raise ValidationError(msg)
        Client().backend.log_model_version_metadata(
            step.model_version_id, metadata, run_id=run_id, step=step_name
        )
        return
    if infer_artifact:
        if step is None:
            msg = (
                "If you are using the `infer_artifact` option, the function must be called "
                "inside a step; outside one, pass artifact_name (and artifact_version)."
            )
            raise ValidationError(msg)
        step.defer_artifact_metadata(metadata, artifact_name)
        return
    client = Client()
    backend = client.backend
    if artifact_name is not None or artifact_version_id is not None:
        found = client.get_artifact_version(
            artifact_version_id if artifact_version_id is not None else str(artifact_name),
            None if artifact_version_id is not None else artifact_version,
        )
        backend.log_artifact_metadata(found.id, metadata, run_id=run_id, step=step_name)
    elif run_id_name_or_prefix is not None:
        run = client.get_pipeline_run(run_id_name_or_prefix)
        backend.log_run_metadata(run.id, metadata)
    elif model_version_id is not None:
        version_id = backend.get_model_version_by_id(model_version_id).id
        backend.log_model_version_metadata(version_id, metadata, run_id=run_id, step=step_name)
    elif model_name is not None:
        version_id = client.get_model_version(model_name, model_version).id
        backend.log_model_version_metadata(version_id, metadata, run_id=run_id, step=step_name)
    elif step is not None:
        backend.log_run_metadata(step.run_id, metadata, step=step.step_name)
    else:
        msg = (
            "You are calling 'log_metadata()' outside of a step execution: name the target "
            "with model_name= and model_version=, model_version_id=, artifact_name=, or "
            "run_id_name_or_prefix=."
        )
        raise ValidationError(msg)
