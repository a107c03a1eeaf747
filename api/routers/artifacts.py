"""``/artifact_versions`` (records) and ``/artifact_store`` (the bytes, by content hash).

A remote client stores a value in two steps: it uploads the folder its materializer wrote to
``PUT /artifact_store/{content_hash}`` (skipped when ``HEAD`` says the server has it), then
records the version with ``POST /artifact_versions``, which refuses content the server does
not hold. Downloads are by content hash too, checked intact before a byte is sent.
"""

from __future__ import annotations

import tempfile
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from modelplane.artifacts.content_store import StoredArtifact
from modelplane.artifacts.transfer import pack, receive
from modelplane.backend.interface import ROLES, WRITE, PageRequest
from modelplane.domain.errors import NotFoundError, PermissionDeniedError, ValidationError
from modelplane.domain.names import normalise_names

from .. import schemas
from ..auth import Backend, Caller, caller
from ..encoding import one, page
from ..errors import RESPONSES
from ..idempotency import IdempotentRoute
from ..paths import NameIdOrPrefix
from ..responses import JSON
from ..state import ServerState, server_state

router = APIRouter(tags=["artifacts"], responses=RESPONSES, route_class=IdempotentRoute)

State = Annotated[ServerState, Depends(server_state)]


@router.get("/artifact_versions", response_model=schemas.Page[schemas.ArtifactVersion])  # type: ignore[valid-type]
def list_artifact_versions(
    backend: Backend,
    name: str | None = None,
    page_number: Annotated[int, Query(alias="page", ge=1, le=2**62)] = 1,
    size: Annotated[int, Query(ge=1, le=10_000)] = 50,
    cursor: Annotated[str | None, Query(max_length=4096)] = None,
) -> JSON:
    paging = PageRequest(page_number, size, cursor)
    return page(backend.list_artifact_versions(normalise_names(name), paging))


@router.get("/artifact_versions/{name_id_or_prefix}", response_model=schemas.ArtifactVersion)
def get_artifact_version(
    backend: Backend,
    name_id_or_prefix: NameIdOrPrefix,
    version: Annotated[str | None, Query(max_length=64)] = None,
) -> JSON:
    """By name (+ ``version``: the number; default the newest), id, or id prefix."""
    return one(backend.get_artifact_version(name_id_or_prefix, normalise_names(version)))


@router.post("/artifact_versions", response_model=schemas.ArtifactVersion, status_code=201)
def record_artifact_version(
    backend: Backend, state: State, body: schemas.ArtifactVersionRecord
) -> JSON:
    if ROLES.index(backend.role) < ROLES.index(WRITE):
        # refused before the content is looked up: a read token learns nothing from the answer
        msg = (
            "Recording an artifact version needs the write role; "
            f"this caller has the {backend.role} role."
        )
        raise PermissionDeniedError(msg)
    store = state.artifacts
    if not store.exists(body.content_hash):
        msg = (
            f"The server holds no content {body.content_hash}: upload it to "
            "PUT /api/v1/artifact_store/{content_hash} first."
        )
        raise ValidationError(msg)
    stored = StoredArtifact(
        uri=str(store.path_for(body.content_hash)),
        content_hash=body.content_hash,
        materializer=body.materializer,
        data_type=body.data_type,
        artifact_type=body.artifact_type,
        size_bytes=body.size_bytes,
    )
    recorded = backend.record_artifact_version(
        normalise_names(body.name),
        stored,
        normalise_names(body.tags),
        body.run_id,
        body.step,
        body.link_to,
        body.link_kind,
    )
    return one(recorded, 201)


@router.get(
    "/artifact_versions/{artifact_version_id}/consumers",
    response_model=list[schemas.ArtifactConsumer],  # type: ignore[valid-type]
)
def consumers(backend: Backend, artifact_version_id: UUID) -> JSON:
    return one(backend.consumers_of(artifact_version_id))


@router.post("/artifact_versions/{artifact_version_id}/metadata", status_code=204)
def log_artifact_metadata(
    backend: Backend, artifact_version_id: UUID, body: schemas.MetadataLog
) -> Response:
    backend.log_artifact_metadata(artifact_version_id, body.metadata, body.run_id, body.step)
    return Response(status_code=204)


@router.get("/artifacts/{artifact_id}/name", response_model=str | None)
def artifact_name(backend: Backend, artifact_id: UUID) -> JSON:
    return JSON(backend.artifact_name(artifact_id))


@router.head(
    "/artifact_store/{content_hash}",
    status_code=200,
    response_class=Response,
    responses={200: {"description": "The server holds this content intact (no body)."}},
)
def has_content(backend: Backend, state: State, content_hash: str) -> Response:
    """200 if the server holds this content intact, else 404 (a client uploads only then)."""
    if not (state.artifacts.exists(content_hash) and state.artifacts.verify(content_hash)):
        raise NotFoundError(f"The server holds no content with hash {content_hash!r}.")
    return Response(status_code=200)


@router.get(
    "/artifact_store/{content_hash}",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-tar": {}}}},
)
def download(backend: Backend, state: State, content_hash: str) -> StreamingResponse:
    """The stored folder as a tar stream."""
    chunks = pack(state.artifacts, content_hash)
    return StreamingResponse(chunks, media_type="application/x-tar")


@router.put(
    "/artifact_store/{content_hash}",
    status_code=204,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/x-tar": {"schema": {"type": "string", "format": "binary"}}},
        }
    },
)
async def upload(
    request: Request, state: State, who: Annotated[Caller, Depends(caller)], content_hash: str
) -> Response:
    """The files of one stored value, as a tar of its folder; kept only if they hash to
    ``content_hash``. Bodies over ``MODELPLANE_MAX_UPLOAD_BYTES`` are refused (413)."""
    if who.role not in (WRITE, "admin"):
        msg = f"Uploading artifacts needs the write role; token '{who.name}' has {who.role}."
        raise PermissionDeniedError(msg)
    state.artifacts.path_for(content_hash)  # 400 for a malformed hash, before reading the body
    with tempfile.SpooledTemporaryFile(max_size=8 << 20) as spool:
        try:
            async for chunk in request.stream():
                spool.write(chunk)
        except ClientDisconnect:
            # The client went away mid-body: nothing was unpacked, and nobody reads an answer;
            # a typed refusal keeps this out of the server's log of bugs.
            raise ValidationError("the upload was cut off before its body ended") from None
        spool.seek(0)
        await run_in_threadpool(receive, state.artifacts, content_hash, spool)  # type: ignore[arg-type]
    return Response(status_code=204)
