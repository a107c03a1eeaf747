"""``/models/{name_or_id}/aliases``: set, move, remove and read a model's aliases, now or as
of a past moment, and their history."""

from __future__ import annotations

from fastapi import APIRouter, Response

from modelplane.domain.names import normalise_names

from .. import schemas
from ..auth import Backend
from ..encoding import one
from ..errors import RESPONSES
from ..idempotency import IdempotentRoute
from ..paths import AliasName, NameOrId
from ..responses import JSON
from .model_versions import At

router = APIRouter(tags=["aliases"], responses=RESPONSES, route_class=IdempotentRoute)


@router.get("/models/{name_or_id}/aliases", response_model=dict[str, schemas.ModelVersion])  # type: ignore[valid-type]
def list_aliases(backend: Backend, name_or_id: NameOrId, at: At) -> JSON:
    """Alias -> the version it names (as of ``at``, if given)."""
    return one(backend.list_model_aliases(name_or_id, at))


@router.get("/models/{name_or_id}/aliases/{alias}", response_model=schemas.ModelVersion)
def get_by_alias(backend: Backend, name_or_id: NameOrId, alias: AliasName, at: At) -> JSON:
    """The version an alias names (as of ``at``, if given)."""
    return one(backend.get_model_version_by_alias(name_or_id, alias, at))


@router.put("/models/{name_or_id}/aliases/{alias}", response_model=schemas.ModelVersion)
def set_alias(
    backend: Backend, name_or_id: NameOrId, alias: AliasName, body: schemas.AliasSet
) -> JSON:
    """Point the alias at a version, moving it from the one holding it; the version then."""
    version = normalise_names(body.version)
    return one(backend.set_model_version_alias(name_or_id, version, alias, body.reason))


@router.delete("/models/{name_or_id}/aliases/{alias}", status_code=204)
def delete_alias(
    backend: Backend, name_or_id: NameOrId, alias: AliasName, reason: str | None = None
) -> Response:
    backend.delete_model_version_alias(name_or_id, alias, reason)
    return Response(status_code=204)


@router.get("/models/{name_or_id}/alias_history", response_model=list[schemas.AliasChange])  # type: ignore[valid-type]
def alias_history(backend: Backend, name_or_id: NameOrId, alias: str | None = None) -> JSON:
    """Every set, move and removal of the model's aliases (of ``alias``), oldest first."""
    return one(backend.get_alias_history(name_or_id, normalise_names(alias)))
