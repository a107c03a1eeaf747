"""The webhook use cases the local backend delegates to: register, list, show, remove, and
list a webhook's delivery attempts.

Registering stores the secret first, in its own transaction, then appends the registration:
a secret whose registration never made it to the log is inert (no deliverer reads a secret
without a webhook) and is deleted on the way out. The log gets the secret's sha256 only.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import secrets as random_secrets
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

from sqlalchemy import select

from modelplane.domain.errors import NotFoundError, ValidationError
from modelplane.domain.webhooks import check_registration, check_secret
from modelplane.projections.queries.webhooks import webhook_row, webhook_rows

from . import progress
from .responses import CreatedWebhook, WebhookDelivery, WebhookResponse
from .tables import cursors, ensure_tables

if TYPE_CHECKING:
    from sqlalchemy import Connection, RowMapping

    from modelplane.store_handle import Store

#: bytes of randomness in a generated secret (43 characters of ``token_urlsafe``)
SECRET_BYTES = 32
MAX_DELIVERIES_LIMIT = 1000


def create_webhook(
    store: Store,
    *,
    url: str,
    events: list[str],
    model: str | None,
    secret: str | None,
    actor: str,
) -> CreatedWebhook:
    """Register a webhook; a secret is generated when none is given (and answered, once)."""
    url, events, model = check_registration(url, events, model)
    generated = secret is None
    chosen = random_secrets.token_urlsafe(SECRET_BYTES) if secret is None else check_secret(secret)
    webhook_id = uuid4()
    engine = store.engine
    ensure_tables(engine)
    progress.store_secret(engine, str(webhook_id), chosen)
    try:
        store.registry.register_webhook(
            webhook_id,
            url=url,
            events=events,
            model=model,
            secret_sha256=hashlib.sha256(chosen.encode()).hexdigest(),
            actor=actor,
        )
    except BaseException:
        with contextlib.suppress(Exception):
            progress.drop_secret(engine, str(webhook_id))
        raise
    found = get_webhook(store, webhook_id)
    fields = {field.name: getattr(found, field.name) for field in dataclasses.fields(found)}
    return CreatedWebhook(**fields, secret=chosen if generated else None)


def list_webhooks(store: Store) -> list[WebhookResponse]:
    """Every webhook ever registered, removed ones too, newest first (never a secret)."""
    ensure_tables(store.engine)
    with store.read() as conn:
        rows = webhook_rows(conn)
        held = _cursors(conn, [row["id"] for row in rows])
    return [_response(row, held.get(row["id"])) for row in rows]


def get_webhook(store: Store, webhook_id: UUID | str) -> WebhookResponse:
    ensure_tables(store.engine)
    key = _check_id(webhook_id)
    with store.read() as conn:
        row = webhook_row(conn, key)
        if row is None:
            raise NotFoundError(f"No webhook with id '{key}' exists.")
        held = _cursors(conn, [row["id"]])
    return _response(row, held.get(row["id"]))


def remove_webhook(store: Store, webhook_id: UUID | str, reason: str | None, actor: str) -> None:
    """Remove a webhook: deliverers stop at their next poll; its secret is deleted."""
    key = _check_id(webhook_id)
    store.registry.remove_webhook(key, actor=actor, reason=reason)
    ensure_tables(store.engine)
    with contextlib.suppress(Exception):  # inert without its webhook anyway
        progress.drop_secret(store.engine, str(key))


def list_deliveries(store: Store, webhook_id: UUID | str, limit: int) -> list[WebhookDelivery]:
    """A webhook's delivery attempts, newest first (removed webhooks keep theirs)."""
    whole = isinstance(limit, int) and not isinstance(limit, bool)
    if not whole or not 1 <= limit <= MAX_DELIVERIES_LIMIT:
        msg = f"limit must be a whole number from 1 to {MAX_DELIVERIES_LIMIT}, not {limit!r}."
        raise ValidationError(msg)
    found = get_webhook(store, webhook_id)
    with store.read() as conn:
        rows = progress.attempt_rows(conn, str(found.id), limit)
    return [
        WebhookDelivery(
            webhook_id=UUID(row["webhook_id"]),
            delivery_id=UUID(row["delivery_id"]),
            position=int(row["position"]),
            event_type=row["event_type"],
            attempt=int(row["attempt"]),
            at=row["at"],
            status_code=row["status_code"],
            error=row["error"],
            duration_ms=float(row["duration_ms"]),
            worker=row["worker"],
        )
        for row in rows
    ]


def _check_id(webhook_id: object) -> UUID:
    if isinstance(webhook_id, UUID):
        return webhook_id
    try:
        return UUID(str(webhook_id))
    except ValueError:
        raise ValidationError(f"A webhook id is a UUID, not {str(webhook_id)[:100]!r}.") from None


def _cursors(conn: Connection, ids: list[str]) -> dict[str, RowMapping]:
    if not ids:
        return {}
    query = select(cursors).where(cursors.c.webhook_id.in_(ids))
    return {row["webhook_id"]: row for row in conn.execute(query).mappings()}


def _response(row: RowMapping, cursor: RowMapping | None) -> WebhookResponse:
    held: dict[str, Any] = {}
    if cursor is not None:
        held = {
            "position": int(cursor["position"]),
            "lease_owner": cursor["lease_owner"],
            "lease_until": cursor["lease_until"],
        }
    return WebhookResponse(
        id=UUID(row["id"]),
        url=row["url"],
        events=list(row["events"]),
        model=row["model"],
        created=row["created"],
        created_by=row["created_by"],
        secret_sha256=row["secret_sha256"],
        removed=row["removed"],
        removed_by=row["removed_by"],
        removed_reason=row["removed_reason"],
        **held,
    )
