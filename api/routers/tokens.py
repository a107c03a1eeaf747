"""``/tokens`` (admin): create, list and revoke API tokens."""

from __future__ import annotations

from fastapi import APIRouter, Response

from modelplane.domain.names import normalise_names

from .. import schemas
from ..auth import Backend
from ..encoding import one
from ..errors import RESPONSES
from ..idempotency import IdempotentRoute, keeps_no_answer
from ..paths import TokenName
from ..responses import JSON

router = APIRouter(tags=["tokens"], responses=RESPONSES, route_class=IdempotentRoute)


@router.post("/tokens", response_model=schemas.CreatedToken, status_code=201)
@keeps_no_answer  # the store never holds a secret: a retry finds the name taken (409)
def create_token(backend: Backend, body: schemas.TokenCreate) -> JSON:
    """A new token; its secret is in this answer only."""
    created = backend.create_token(normalise_names(body.name), body.role)
    return JSON({"token": created.token, "name": created.name, "role": created.role}, 201)


@router.get("/tokens", response_model=list[schemas.Token])  # type: ignore[valid-type]
def list_tokens(backend: Backend) -> JSON:
    return one(backend.list_tokens())


@router.delete("/tokens/{name}", status_code=204)
def revoke_token(backend: Backend, name: TokenName) -> Response:
    """Refused by every worker from the next request on."""
    backend.revoke_token(name)
    return Response(status_code=204)
