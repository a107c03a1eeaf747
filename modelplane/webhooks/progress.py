"""The deliverers' progress in the database: each webhook's position and lease, and the
attempts, as SQL statements that are each one short transaction.

Every change a deliverer makes to a webhook's row is conditional on holding its lease
(``lease_owner = me``), and a lease is taken only from nobody, from itself, or from a
holder whose lease ran out; PostgreSQL re-checks the condition on the row it locked, SQLite
runs one writer at a time, so two processes never both believe they hold one webhook.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, delete, func, insert, or_, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from modelplane.projections.tables import webhooks

from .tables import cursors, deliveries, secrets


def now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class LiveHook:
    """A webhook to deliver, as a deliverer sees it on one poll."""

    id: str
    url: str
    events: frozenset[str] | None  # None: every type
    model: str | None
    secret: str | None  # None: its secret row is missing (it cannot be signed)
    registered: int  # the log position of its registration
    position: int | None  # None: no cursor row yet
    lease_owner: str | None
    lease_until: datetime | None


def live_hooks(conn: Connection) -> list[LiveHook]:
    """Every webhook not removed, with its secret and its cursor: one query."""
    query = (
        select(
            webhooks.c.id,
            webhooks.c.url,
            webhooks.c.events,
            webhooks.c.model,
            webhooks.c.position.label("registered"),
            secrets.c.secret,
            cursors.c.position,
            cursors.c.lease_owner,
            cursors.c.lease_until,
        )
        .select_from(
            webhooks.outerjoin(secrets, secrets.c.webhook_id == webhooks.c.id).outerjoin(
                cursors, cursors.c.webhook_id == webhooks.c.id
            )
        )
        .where(webhooks.c.removed.is_(None))
        .order_by(webhooks.c.position)
    )
    found = []
    for row in conn.execute(query).mappings():
        events = list(row["events"])
        found.append(
            LiveHook(
                id=row["id"],
                url=row["url"],
                events=None if "*" in events else frozenset(events),
                model=row["model"],
                secret=row["secret"],
                registered=int(row["registered"]),
                position=None if row["position"] is None else int(row["position"]),
                lease_owner=row["lease_owner"],
                lease_until=row["lease_until"],
            )
        )
    return found


def start_cursor(engine: Engine, webhook_id: str, position: int) -> None:
    """The webhook's cursor at ``position`` (its registration: it is sent what follows), unless
    another process made it first."""
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(cursors),
                {"webhook_id": webhook_id, "position": position, "lease_owner": None},
            )
    except IntegrityError:
        pass  # made by another process since this one looked


def claim(engine: Engine, webhook_id: str, owner: str, seconds: float) -> datetime | None:
    """Take (or keep) the webhook's lease for ``seconds``: the new expiry, or None when
    another process holds it."""
    at = now()
    until = at + timedelta(seconds=seconds)
    statement = (
        update(cursors)
        .where(
            cursors.c.webhook_id == webhook_id,
            or_(
                cursors.c.lease_owner.is_(None),
                cursors.c.lease_owner == owner,
                cursors.c.lease_until.is_(None),
                cursors.c.lease_until < at,
            ),
        )
        .values(lease_owner=owner, lease_until=until)
    )
    with engine.begin() as conn:
        claimed = conn.execute(statement).rowcount == 1
    return until if claimed else None


def renew(engine: Engine, webhook_id: str, owner: str, seconds: float) -> datetime | None:
    """Extend a lease this process holds: the new expiry, or None if it lost it."""
    until = now() + timedelta(seconds=seconds)
    statement = (
        update(cursors)
        .where(cursors.c.webhook_id == webhook_id, cursors.c.lease_owner == owner)
        .values(lease_until=until)
    )
    with engine.begin() as conn:
        renewed = conn.execute(statement).rowcount == 1
    return until if renewed else None


def release(engine: Engine, webhook_id: str, owner: str) -> None:
    """Give the lease up, so another process takes the webhook over at once."""
    statement = (
        update(cursors)
        .where(cursors.c.webhook_id == webhook_id, cursors.c.lease_owner == owner)
        .values(lease_owner=None, lease_until=None)
    )
    with engine.begin() as conn:
        conn.execute(statement)


def position_of(engine: Engine, webhook_id: str) -> int:
    with engine.connect() as conn:
        found = conn.execute(
            select(cursors.c.position).where(cursors.c.webhook_id == webhook_id)
        ).scalar()
    if found is None:
        raise LookupError(f"webhook {webhook_id} has no cursor")
    return int(found)


def advance(engine: Engine, webhook_id: str, owner: str, position: int) -> bool:
    """Move the cursor past events not wanted; False if this process lost the lease."""
    statement = (
        update(cursors)
        .where(cursors.c.webhook_id == webhook_id, cursors.c.lease_owner == owner)
        .values(position=position)
    )
    with engine.begin() as conn:
        return conn.execute(statement).rowcount == 1


def attempts_at(engine: Engine, webhook_id: str, position: int) -> int:
    """How many attempts were made at this position (by any process, before a crash too)."""
    query = select(func.count()).where(
        and_(deliveries.c.webhook_id == webhook_id, deliveries.c.position == position)
    )
    with engine.connect() as conn:
        return int(conn.execute(query).scalar() or 0)


def record(engine: Engine, attempt: dict[str, Any]) -> None:
    """Record a failed attempt (the cursor stays: the event is tried again)."""
    with engine.begin() as conn:
        conn.execute(insert(deliveries), attempt)


def record_delivered(engine: Engine, attempt: dict[str, Any], owner: str) -> bool:
    """Record a delivered attempt and move the cursor to its position, in one transaction,
    only while this process holds the lease. A process that lost it records the attempt
    alone and says so (False): the holder sends the event again, under the same id."""
    move = (
        update(cursors)
        .where(cursors.c.webhook_id == attempt["webhook_id"], cursors.c.lease_owner == owner)
        .values(position=attempt["position"])
    )
    with engine.begin() as conn:
        if conn.execute(move).rowcount == 1:
            conn.execute(insert(deliveries), attempt)
            return True
    lost = dict(attempt, error="delivered after this process lost the webhook's lease")
    record(engine, lost)
    return False


def attempt_rows(conn: Connection, webhook_id: str, limit: int) -> list[Any]:
    """A webhook's attempts, newest first."""
    query = (
        select(deliveries)
        .where(deliveries.c.webhook_id == webhook_id)
        .order_by(deliveries.c.id.desc())
        .limit(limit)
    )
    return list(conn.execute(query).mappings())


def store_secret(engine: Engine, webhook_id: str, secret: str) -> None:
    with engine.begin() as conn:
        conn.execute(insert(secrets), {"webhook_id": webhook_id, "secret": secret})


def drop_secret(engine: Engine, webhook_id: str) -> None:
    with engine.begin() as conn:
        conn.execute(delete(secrets).where(secrets.c.webhook_id == webhook_id))
