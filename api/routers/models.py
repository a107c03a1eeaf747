"""``/models``: register, list, read, update and delete models; their versions and history."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response

from modelplane.backend.interface import PageRequest
from modelplane.domain.names import normalise_names

from .. import schemas
from ..auth import Backend
from ..encoding import one, page
from ..errors import RESPONSES
from ..idempotency import IdempotentRoute
from ..paths import NameOrId
from ..responses import JSON

router = APIRouter(tags=["models"], responses=RESPONSES, route_class=IdempotentRoute)

PageSize = Annotated[int, Query(ge=1, le=10_000)]
Cursor = Annotated[str | None, Query(max_length=4096)]


@router.get("/models", response_model=schemas.Page[schemas.Model])  # type: ignore[valid-type]
def list_models(
    backend: Backend,
    name: str | None = None,
    tag: str | None = None,
    page_number: Annotated[int, Query(alias="page", ge=1, le=2**62)] = 1,
    size: PageSize = 50,
    cursor: Cursor = None,
) -> JSON:
    paging = PageRequest(page_number, size, cursor)
    return page(backend.list_models(normalise_names(name), normalise_names(tag), paging))


@router.post("/models", response_model=schemas.Model, status_code=201)
def create_model(backend: Backend, body: schemas.ModelCreate) -> JSON:
    fields = body.model_dump(exclude={"name", "tags"})
    created = backend.create_model(normalise_names(body.name), fields, normalise_names(body.tags))
    return one(created, 201)


@router.get("/models/{name_or_id}", response_model=schemas.Model)
def get_model(backend: Backend, name_or_id: NameOrId) -> JSON:
    return one(backend.get_model(name_or_id))


@router.put("/models/{name_or_id}", response_model=schemas.Model)
def update_model(backend: Backend, name_or_id: NameOrId, body: schemas.ModelUpdate) -> JSON:
    fields = body.model_dump(exclude={"name", "add_tags", "remove_tags"}, exclude_none=True)
    updated = backend.update_model(
        name_or_id,
        normalise_names(body.name),
        fields,
        normalise_names(body.add_tags),
        normalise_names(body.remove_tags),
    )
    return one(updated)


@router.delete("/models/{name_or_id}", status_code=204)
def delete_model(backend: Backend, name_or_id: NameOrId, reason: str | None = None) -> Response:
    backend.delete_model(name_or_id, reason)
    return Response(status_code=204)


@router.get(
    "/models/{name_or_id}/model_versions",
    response_model=schemas.Page[schemas.ModelVersion],  # type: ignore[valid-type]
)
def list_model_versions(
    backend: Backend,
    name_or_id: NameOrId,
    stage: str | None = None,
    tag: str | None = None,
    name: str | None = None,
    page_number: Annotated[int, Query(alias="page", ge=1, le=2**62)] = 1,
    size: PageSize = 50,
    cursor: Cursor = None,
) -> JSON:
    found = backend.list_model_versions(
        name_or_id,
        stage,
        normalise_names(tag),
        normalise_names(name),
        PageRequest(page_number, size, cursor),
    )
    return page(found)


@router.get("/models/{name_or_id}/stage_history", response_model=list[schemas.StageChange])  # type: ignore[valid-type]
def stage_history(
    backend: Backend,
    name_or_id: NameOrId,
    after: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
    limit: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> JSON:
    return one(backend.get_stage_history(name_or_id, after, limit))


@router.get("/models/{name_or_id}/lives", response_model=list[schemas.Model])  # type: ignore[valid-type]
def model_lives(backend: Backend, name_or_id: NameOrId) -> JSON:
    """Every model that ever had this name (or id), deleted ones too, oldest first."""
    return one(backend.model_lives(name_or_id))


@router.get("/models/{name_or_id}/name_history", response_model=list[tuple[int, str]])
def name_history(backend: Backend, name_or_id: NameOrId) -> JSON:
    """``[position, name]`` of each name a model had, in log order (by id: deleted ones too)."""
    try:
        model_id = UUID(name_or_id)
    except ValueError:
        model_id = backend.get_model(name_or_id).id
    return one(backend.model_name_history(model_id))
