"""``/runs``: pipeline runs and their steps, as pipelines record them."""

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
from ..paths import NameIdOrPrefix, StepName
from ..responses import JSON

router = APIRouter(tags=["pipeline runs"], responses=RESPONSES, route_class=IdempotentRoute)


@router.post("/runs", status_code=204)
def start_run(backend: Backend, body: schemas.RunStart) -> Response:
    backend.start_run(
        body.id,
        normalise_names(body.name),
        normalise_names(body.pipeline),
        body.model_version_id,
        body.model_version_how,
        body.stage,
        body.parameters,
    )
    return Response(status_code=204)


@router.get("/runs", response_model=schemas.Page[schemas.PipelineRun])  # type: ignore[valid-type]
def list_runs(
    backend: Backend,
    model: str | None = None,
    status: str | None = None,
    model_version_id: UUID | None = None,
    page_number: Annotated[int, Query(alias="page", ge=1, le=2**62)] = 1,
    size: Annotated[int, Query(ge=1, le=10_000)] = 50,
    cursor: Annotated[str | None, Query(max_length=4096)] = None,
) -> JSON:
    paging = PageRequest(page_number, size, cursor)
    return page(
        backend.list_pipeline_runs(normalise_names(model), status, model_version_id, paging)
    )


@router.get("/runs/{name_id_or_prefix}", response_model=schemas.PipelineRun)
def get_run(backend: Backend, name_id_or_prefix: NameIdOrPrefix) -> JSON:
    return one(backend.get_pipeline_run(name_id_or_prefix))


@router.put("/runs/{run_id}", status_code=204)
def finish_run(backend: Backend, run_id: UUID, body: schemas.RunFinish) -> Response:
    """End a run (``completed`` or ``failed``, with the error)."""
    backend.finish_run(run_id, body.status, body.error)
    return Response(status_code=204)


@router.put("/runs/{run_id}/steps/{step}", status_code=204)
def finish_step(
    backend: Backend, run_id: UUID, step: StepName, body: schemas.StepFinish
) -> Response:
    backend.finish_step(run_id, step, body.inputs, body.outputs, body.duration_ms, body.error)
    return Response(status_code=204)


@router.get("/runs/{run_id}/steps", response_model=dict[str, schemas.StepRun])  # type: ignore[valid-type]
def steps(backend: Backend, run_id: UUID) -> JSON:
    return one(backend.steps_of(run_id))


@router.post("/runs/{run_id}/metadata", status_code=204)
def log_run_metadata(backend: Backend, run_id: UUID, body: schemas.MetadataLog) -> Response:
    backend.log_run_metadata(run_id, body.metadata, body.step)
    return Response(status_code=204)
