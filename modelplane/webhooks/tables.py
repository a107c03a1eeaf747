"""The webhooks' operational tables: secrets, delivery positions and leases, attempts.

Not read tables: those are dropped and refolded from the log on an upgrade or a replay, and
none of this is in the log (the secret must not be, the positions and attempts are the
deliverers' own progress). So they live in a ``MetaData`` of their own, created beside the
read tables on first use and never rebuilt.
"""

from __future__ import annotations

import threading

from sqlalchemy import BigInteger, Column, Float, Index, Integer, MetaData, String, Table, Text
from sqlalchemy.engine import Engine

from modelplane.projections.engine import schema_transaction
from modelplane.projections.tables import UTCDateTime

webhook_tables = MetaData()

#: one row per webhook: its signing secret. Written before the registration is appended (a
#: row whose webhook was never registered is inert), deleted when the webhook is removed.
secrets = Table(
    "mp_webhook_secrets",
    webhook_tables,
    Column("webhook_id", String(36), primary_key=True),
    Column("secret", Text, nullable=False),
)

#: one row per webhook: the last log position delivered (or passed over: not wanted), and
#: which process delivers it until when. Every change is a conditional UPDATE, so two
#: processes never both hold a lease, and one that lost its lease cannot move the position.
cursors = Table(
    "mp_webhook_cursors",
    webhook_tables,
    Column("webhook_id", String(36), primary_key=True),
    Column("position", BigInteger, nullable=False),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", UTCDateTime, nullable=True),
)

#: every attempt to deliver an event: ``status_code`` what the target answered (None: no
#: answer), ``error`` why it did not count (None: delivered), ``worker`` the process.
deliveries = Table(
    "mp_webhook_deliveries",
    webhook_tables,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("webhook_id", String(36), nullable=False),
    Column("delivery_id", String(36), nullable=False),
    Column("position", BigInteger, nullable=False),
    Column("event_type", String(64), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("error", Text, nullable=True),
    Column("duration_ms", Float, nullable=False),
    Column("worker", String(64), nullable=False),
    # a webhook's attempts newest first, and the attempts at one position
    Index("mp_webhook_deliveries_webhook", "webhook_id", "id"),
    Index("mp_webhook_deliveries_position", "webhook_id", "position"),
)

_ready: set[str] = set()
_ready_lock = threading.Lock()


def ensure_tables(engine: Engine) -> None:
    """Create the tables if the store lacks them (under the schema lock, so any number of
    processes may be first); once per store per process."""
    key = str(engine.url)
    with _ready_lock:
        if key in _ready:
            return
        with schema_transaction(engine) as conn:
            webhook_tables.create_all(conn, checkfirst=True)
        _ready.add(key)
