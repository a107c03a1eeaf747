"""modelplane's answers in MLflow's JSON (``model_registry.proto``'s ``RegisteredModel`` and
``ModelVersion``, snake_case as MLflow's REST API writes them).

Timestamps are milliseconds since the epoch; a version is its number, as a string; stages are
capitalised (``none`` is ``"None"``); tags are ``[{key, value}]`` (modelplane's key-value
tags: its ZenML-style string tags have no MLflow form and are not shown); a model's aliases are
``[{alias, version}]``, a version's the list of its alias names. Every version is ``READY``:
an MLflow client polls a version in any other status (the proto's default is
``PENDING_REGISTRATION``) for five minutes before giving up. Fields modelplane has no value
for are left out, as MLflow's proto JSON leaves out unset fields, but for a missing
description or run id, which MLflow's server answers as ``""`` (and its client shows so).
``user_id`` is the actor that registered the model or created the version (MLflow's own
server leaves it empty).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from modelplane.domain.errors import ValidationError
from modelplane.responses import ModelResponse, ModelVersionResponse

#: modelplane's stage -> MLflow's
STAGES = {"none": "None", "staging": "Staging", "production": "Production", "archived": "Archived"}
_FROM_MLFLOW = {shown.lower(): stage for stage, shown in STAGES.items()}
#: MLflow's stages in the order ``get_latest_versions`` answers with every stage
ALL_STAGES = tuple(STAGES)


def millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def mlflow_stage(stage: str) -> str:
    return STAGES[str(stage)]


def modelplane_stage(stage: str) -> str:
    """An MLflow stage (any case, as MLflow accepts) as modelplane's."""
    found = _FROM_MLFLOW.get(stage.strip().lower()) if isinstance(stage, str) else None
    if found is None:
        msg = (
            f"Invalid Model Version stage: {stage}. "
            "Value must be one of None, Staging, Production, Archived."
        )
        raise ValidationError(msg)
    return found


def tags(found: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"key": key, "value": value} for key, value in sorted(found.items())]


def model_version(version: ModelVersionResponse) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "name": version.model_name,
        "version": str(version.number),
        "creation_timestamp": millis(version.created),
        "last_updated_timestamp": millis(version.updated),
        "user_id": version.user,
        "current_stage": mlflow_stage(version.stage),
        "description": version.description or "",
        "run_id": version.run_id or "",
        "status": "READY",
        "tags": tags(version.key_value_tags),
        "aliases": sorted(version.aliases),
    }
    for field in ("source", "run_link"):
        value = getattr(version, field)
        if value is not None:
            shown[field] = value
    return shown


def registered_model(
    model: ModelResponse, latest: Iterable[ModelVersionResponse] = ()
) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "name": model.name,
        "creation_timestamp": millis(model.created),
        "last_updated_timestamp": millis(model.updated),
        "user_id": model.user,
        "description": model.description or "",
        "latest_versions": [model_version(v) for v in latest],
        "tags": tags(model.key_value_tags),
        "aliases": [
            {"alias": alias, "version": str(number)}
            for alias, number in sorted(model.aliases.items())
        ],
    }
    return shown
