"""``/webhooks`` (admin): register, list, show and remove webhooks, and list the attempts to
deliver to one. The deliveries themselves are made by each server process's deliverer
(``modelplane.webhooks.deliverer``), from the log."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Response

from modelplane.backend.wire import encode
from modelplane.domain.names import normalise_names
from modelplane.webhooks.registrations import MAX_DELIVERIES_LIMIT

from .. import schemas
from ..auth import Backend
from ..encoding import one
from ..errors import RESPONSES
from ..idempotency import IdempotentRoute, own_transactions
from ..responses import JSON

router = APIRouter(tags=["webhooks"], responses=RESPONSES, route_class=IdempotentRoute)


@router.post("/webhooks", response_model=schemas.CreatedWebhook, status_code=201)
@own_transactions  # the secret is stored before the event, through a connection of its own
def create_webhook(backend: Backend, body: schemas.WebhookCreate) -> JSON:
    """A new webhook, sent the events appended from now on. A generated secret is in this
    answer only; a chosen one is never answered."""
    created = backend.create_webhook(
        body.url, body.events, normalise_names(body.model), body.secret
    )
    answer = encode(created)
    if answer["secret"] is None:
        del answer["secret"]
    return JSON(answer, 201)


@router.get("/webhooks", response_model=list[schemas.Webhook])  # type: ignore[valid-type]
def list_webhooks(backend: Backend) -> JSON:
    """Every webhook, removed ones too, newest first, with how far each was delivered."""
    return one(backend.list_webhooks())


@router.get("/webhooks/{webhook_id}", response_model=schemas.Webhook)
def get_webhook(backend: Backend, webhook_id: UUID) -> JSON:
    """A webhook: ``position`` is the last log position delivered (or passed over), and
    ``lease_owner``/``lease_until`` which server process delivers it, until when."""
    return one(backend.get_webhook(webhook_id))


@router.delete("/webhooks/{webhook_id}", status_code=204)
@own_transactions  # the secret is deleted after the event, through a connection of its own
def delete_webhook(backend: Backend, webhook_id: UUID, reason: str | None = None) -> Response:
    """No event is delivered to it after this (its attempts stay listed)."""
    backend.delete_webhook(webhook_id, reason)
    return Response(status_code=204)


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    response_model=list[schemas.WebhookDelivery],  # type: ignore[valid-type]
)
def list_webhook_deliveries(
    backend: Backend,
    webhook_id: UUID,
    limit: Annotated[int, Query(ge=1, le=MAX_DELIVERIES_LIMIT)] = 50,
) -> JSON:
    """Every attempt to deliver to the webhook, newest first."""
    return one(backend.list_webhook_deliveries(webhook_id, limit))
