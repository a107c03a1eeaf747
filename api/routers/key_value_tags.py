"""``.../key_value_tags/{key}``: set and delete the key-value tags (MLflow's tags) of models
and of model versions; they are read with the model or version."""

from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, Response

from .. import schemas
from ..auth import Backend
from ..errors import RESPONSES
from ..idempotency import IdempotentRoute
from ..paths import NameOrId, TagKey

router = APIRouter(tags=["key-value tags"], responses=RESPONSES, route_class=IdempotentRoute)


@router.put("/models/{name_or_id}/key_value_tags/{key}", status_code=204)
def set_model_tag(
    backend: Backend, name_or_id: NameOrId, key: TagKey, body: schemas.KeyValueTagSet
) -> Response:
    backend.set_model_tag(name_or_id, key, body.value)
    return Response(status_code=204)


@router.delete("/models/{name_or_id}/key_value_tags/{key}", status_code=204)
def delete_model_tag(backend: Backend, name_or_id: NameOrId, key: TagKey) -> Response:
    backend.delete_model_tag(name_or_id, key)
    return Response(status_code=204)


@router.put("/model_versions/{version_id}/key_value_tags/{key}", status_code=204)
def set_version_tag(
    backend: Backend, version_id: UUID, key: TagKey, body: schemas.KeyValueTagSet
) -> Response:
    backend.set_model_version_tag(version_id, key, body.value)
    return Response(status_code=204)


@router.delete("/model_versions/{version_id}/key_value_tags/{key}", status_code=204)
def delete_version_tag(backend: Backend, version_id: UUID, key: TagKey) -> Response:
    backend.delete_model_version_tag(version_id, key)
    return Response(status_code=204)
