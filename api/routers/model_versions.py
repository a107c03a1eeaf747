"""``/model_versions``: create, read (also as of a past moment), update (rename, tags,
promotion), delete; the artifacts linked to a version and the runs that consumed it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response

from modelplane.domain.names import normalise_names

from .. import schemas
from ..auth import Backend
from ..encoding import one
from ..errors import RESPONSES
from ..idempotency import IdempotentRoute
from ..moments import position_or_time
from ..paths import NameOrId, Selector
from ..responses import JSON

router = APIRouter(tags=["model versions"], responses=RESPONSES, route_class=IdempotentRoute)


async def _at(
    at: Annotated[
        str | None,
        Query(
            max_length=64,
            description="A log position (digits) or an ISO 8601 time: answer as of then.",
        ),
    ] = None,
) -> datetime | int | None:
    return position_or_time(at, "at")


At = Annotated[datetime | int | None, Depends(_at)]


@router.post("/model_versions", response_model=schemas.ModelVersion, status_code=201)
def create_model_version(backend: Backend, body: schemas.ModelVersionCreate) -> JSON:
    created = backend.create_model_version(
        normalise_names(body.model),
        normalise_names(body.name),
        body.description,
        normalise_names(body.tags),
        body.source,
        body.run_id,
        body.run_link,
    )
    return one(created, 201)


@router.get("/model_versions/{version_id}", response_model=schemas.ModelVersion)
def get_model_version(backend: Backend, version_id: UUID, at: At, deleted_ok: bool = False) -> JSON:
    if at is None:
        return one(backend.get_model_version_by_id(version_id, deleted_ok=deleted_ok))
    version = backend.get_model_version_by_id(version_id, deleted_ok=True)
    return one(backend.get_model_version(version.model_id, version_id, at=at))


@router.get("/models/{name_or_id}/model_versions/{selector}", response_model=schemas.ModelVersion)
def get_model_version_by_selector(
    backend: Backend, name_or_id: NameOrId, selector: Selector, at: At
) -> JSON:
    """A version by name, number, id or stage (``latest``: the newest)."""
    return one(backend.get_model_version(name_or_id, selector, at=at))


@router.put("/model_versions/{version_id}", response_model=schemas.ModelVersion)
def update_model_version(
    backend: Backend, version_id: UUID, body: schemas.ModelVersionUpdate
) -> JSON:
    updated = backend.update_model_version(
        version_id,
        stage=body.stage,
        force=body.force,
        expected_holder=normalise_names(body.expected_holder),
        reason=body.reason,
        name=normalise_names(body.name),
        description=body.description,
        add_tags=normalise_names(body.add_tags),
        remove_tags=normalise_names(body.remove_tags),
    )
    return one(updated)


@router.delete("/model_versions/{version_id}", status_code=204)
def delete_model_version(backend: Backend, version_id: UUID, reason: str | None = None) -> Response:
    backend.delete_model_version(version_id, reason)
    return Response(status_code=204)


@router.get("/model_versions/{version_id}/artifacts", response_model=list[schemas.LinkedArtifact])  # type: ignore[valid-type]
def linked_artifacts(
    backend: Backend,
    version_id: UUID,
    until: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
) -> JSON:
    return one(backend.linked_artifacts(version_id, until))


@router.post("/model_versions/{version_id}/artifacts", status_code=204)
def link_artifact(backend: Backend, version_id: UUID, body: schemas.ArtifactLink) -> Response:
    backend.link_artifact(
        version_id, body.artifact_version_id, body.kind, run_id=body.run_id, step=body.step
    )
    return Response(status_code=204)


@router.get("/model_versions/{version_id}/consuming_runs", response_model=list[schemas.PipelineRun])  # type: ignore[valid-type]
def consuming_runs(backend: Backend, version_id: UUID) -> JSON:
    return one(backend.consuming_runs(version_id))


@router.post("/model_versions/{version_id}/metadata", status_code=204)
def log_version_metadata(backend: Backend, version_id: UUID, body: schemas.MetadataLog) -> Response:
    backend.log_model_version_metadata(version_id, body.metadata, body.run_id, body.step)
    return Response(status_code=204)
