"""``log_metadata``: attach metadata to a model version."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.errors import ValidationError

from . import config
from .client import Client
from .enums import ModelStages


def log_metadata(
    metadata: dict[str, Any],
    model_name: str | None = None,
    model_version: str | int | ModelStages | None = None,
    model_version_id: str | UUID | None = None,
    infer_model: bool = False,
) -> None:
    """Log ``metadata`` on a model version; later keys overwrite, the log keeps every value.

    Outside a step, name the version with ``model_name`` (+ ``model_version``: a name,
    number, id or stage, default latest) or ``model_version_id``.
    """
    client = Client()
    if infer_model:
        msg = (
            "If you are using the `infer_model` option, the function must be called inside "
            "a step with a model configured; outside one, pass model_name and model_version."
        )
        raise ValidationError(msg)
    if model_version_id is not None:
        version_id = client._version_by_id(model_version_id).id
    elif model_name is not None:
        version_id = client.get_model_version(model_name, model_version).id
    else:
        msg = (
            "You are calling 'log_metadata()' outside of a step execution: name the target "
            "with model_name= and model_version=, or model_version_id=."
        )
        raise ValidationError(msg)
    client._store.registry.log_metadata(version_id, metadata, actor=config.actor())
