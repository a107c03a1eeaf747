"""``save_artifact``, ``load_artifact`` and ``link_artifact_to_model``.

Argument order follows the seed document: ``save_artifact(name, data, is_model_artifact=...)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from modelplane.domain.errors import ValidationError

from ..client import Client
from ..enums import ArtifactType
from ..pipelines.context import current_step
from ..responses import ArtifactVersionResponse
from .artifact_config import ArtifactConfig


def save_artifact(
    name: str,
    data: Any,
    is_model_artifact: bool = False,
    is_deployment_artifact: bool = False,
    tags: Iterable[str] | None = None,
    artifact_type: ArtifactType | str | None = None,
    materializer: Any = None,
    model: Any = None,
) -> ArtifactVersionResponse:
    """Store ``data`` as the next version of artifact ``name``.

    With ``model`` (a ``Model`` naming a version), the new version is linked to it in the
    same transaction, as a model, deployment or data artifact per the flags. Inside a step,
    the run and step are recorded as its producer and, without ``model``, it is linked to
    the step's model version (the seed's pattern); outside a step it is only saved.
    """
    artifact_config = ArtifactConfig(
        name,
        tags=tags,
        artifact_type=artifact_type,
        is_model_artifact=is_model_artifact,
        is_deployment_artifact=is_deployment_artifact,
    )
    backend = Client().backend
    stored = backend.store_artifact(data, materializer=materializer)
    step = current_step()
    link_to = None if model is None else _model_version_id(model)
    if link_to is None and step is not None:
        link_to = step.model_version_id
    return backend.record_artifact_version(
        name,
        stored,
        tags=artifact_config.tags,
        run_id=None if step is None else step.run_id,
        step=None if step is None else step.step_name,
        link_to=link_to,
        link_kind=artifact_config.link_kind(stored.artifact_type),
    )


def load_artifact(name_or_id: str | UUID, version: str | int | None = None) -> Any:
    """The value of an artifact version (default: the newest version of that name)."""
    return Client().get_artifact_version(name_or_id, version).load()


def link_artifact_to_model(
    artifact_version: ArtifactVersionResponse,
    model: Any = None,
    is_model_artifact: bool = False,
    is_deployment_artifact: bool = False,
) -> None:
    """Link an existing artifact version to a model version (linking twice is a no-op).

    Inside a step, ``model`` defaults to the step's model version and the link records the
    run and step that made it.
    """
    step = current_step()
    if model is not None:
        version_id = _model_version_id(model)
    elif step is not None and step.model_version_id is not None:
        version_id = step.model_version_id
    elif step is not None:
        msg = (
            f"Step '{step.step_name}' has no model configured: pass "
            "model=Model(name=..., version=...) to link_artifact_to_model()."
        )
        raise ValidationError(msg)
    else:
        msg = (
            "link_artifact_to_model() outside a step needs model=Model(name=..., version=...) "
            "naming the model version to link to."
        )
        raise ValidationError(msg)
    kind = ArtifactConfig(
        is_model_artifact=is_model_artifact, is_deployment_artifact=is_deployment_artifact
    ).link_kind()
    Client().backend.link_artifact(
        version_id,
        artifact_version.id,
        kind=kind,
        run_id=None if step is None else step.run_id,
        step=None if step is None else step.step_name,
    )


def _model_version_id(model: Any) -> UUID:
    version_id = getattr(model, "id", None)
    if not isinstance(version_id, UUID):
        msg = f"Expected a Model naming a model version, not {model!r}."
        raise ValidationError(msg)
    return version_id
