"""What the webhook use cases answer: a webhook as listed, a new one (with its generated
secret, once), and one delivery attempt. Plain dataclasses: ``backend.wire`` carries them and
``api.schemas`` derives their OpenAPI schemas, as for ``modelplane.responses``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True)
class WebhookResponse:
    """A webhook: where it posts, which events (``["*"]``: all) of which model (None: all).

    ``position`` is the last log position delivered to it (or passed over as not wanted);
    ``lease_owner`` / ``lease_until`` the server process delivering it and until when its
    claim holds (None before a deliverer first took it). Never the secret.
    """

    id: UUID
    url: str
    events: list[str]
    model: str | None
    created: datetime
    created_by: str
    secret_sha256: str
    removed: datetime | None = None
    removed_by: str | None = None
    removed_reason: str | None = None
    position: int | None = None
    lease_owner: str | None = None
    lease_until: datetime | None = None


@dataclass(frozen=True)
class CreatedWebhook(WebhookResponse):
    """A webhook just registered; ``secret`` is the one generated for it (shown only in
    this answer), None when the caller chose it."""

    secret: str | None = None


@dataclass(frozen=True)
class WebhookDelivery:
    """One attempt to deliver the event at ``position``: ``delivery_id`` is the same on every
    attempt of that event; ``status_code`` the target's answer (None: no answer), ``error``
    why the attempt did not count (None: delivered); ``worker`` the server process."""

    webhook_id: UUID
    delivery_id: UUID
    position: int
    event_type: str
    attempt: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: float
    worker: str

    @property
    def delivered(self) -> bool:
        return self.error is None
