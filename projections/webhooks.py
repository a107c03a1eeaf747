"""The ``webhooks`` projection: every webhook registered, and its removal.

One row per webhook, never deleted: a removal stamps the row, so the listing shows who
removed which webhook, and the deliverers stop at the next poll.
"""

from __future__ import annotations

from typing import ClassVar

from eventsourcing.dispatch import singledispatchmethod
from sqlalchemy import Table, bindparam, insert, update

from modelplane.domain.webhooks import Webhook

from .folding import Batch, Projection
from .tables import webhooks

_insert_webhook = insert(webhooks)
_remove_webhook = (
    update(webhooks)
    .where(webhooks.c.id == bindparam("_id"))
    .values(
        removed=bindparam("_at"), removed_by=bindparam("_by"), removed_reason=bindparam("_reason")
    )
)


class Webhooks(Projection):
    name: ClassVar[str] = "webhooks"
    tables: ClassVar[tuple[Table, ...]] = (webhooks,)

    @singledispatchmethod
    def process_event(self, event: object, position: int, batch: Batch) -> None:
        """Other events leave this table unchanged."""

    @process_event.register
    def _(self, event: Webhook.Registered, position: int, batch: Batch) -> None:
        batch.add(
            _insert_webhook,
            {
                "id": str(event.originator_id),
                "url": event.url,
                "events": list(event.events),
                "model": event.model,
                "secret_sha256": event.secret_sha256,
                "created": event.timestamp,
                "created_by": event.actor,
                "removed": None,
                "removed_by": None,
                "removed_reason": None,
                "position": position,
            },
        )

    @process_event.register
    def _(self, event: Webhook.Removed, position: int, batch: Batch) -> None:
        # an update runs after every insert of its batch: the webhook's row is there
        batch.add(
            _remove_webhook,
            {
                "_id": str(event.originator_id),
                "_at": event.timestamp,
                "_by": event.actor,
                "_reason": event.reason,
            },
        )
