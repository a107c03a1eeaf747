"""Webhooks as the read table has them: the listing, one webhook, and the live ones a
deliverer serves (read again on every poll, so a removal stops deliveries everywhere)."""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import Connection, RowMapping, select

from ..tables import webhooks


def webhook_row(conn: Connection, webhook_id: UUID | str) -> RowMapping | None:
    """The webhook with this id (removed or not), or None; text that is not a UUID finds
    nothing without reaching the database."""
    if not isinstance(webhook_id, UUID):
        try:
            webhook_id = UUID(str(webhook_id))
        except ValueError:
            return None
    query = select(webhooks).where(webhooks.c.id == str(webhook_id))
    return conn.execute(query).mappings().first()


def webhook_rows(conn: Connection, *, live_only: bool = False) -> list[RowMapping]:
    """Every webhook ever registered (``live_only``: not removed), newest first."""
    query = select(webhooks).order_by(webhooks.c.position.desc())
    if live_only:
        query = query.where(webhooks.c.removed.is_(None))
    return list(conn.execute(query).mappings())
