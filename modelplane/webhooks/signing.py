"""What a delivery carries to prove where it came from, and how a receiver checks it.

``Modelplane-Signature: sha256=<hex>`` is the HMAC-SHA256, keyed by the webhook's secret, of
``<Modelplane-Timestamp>.<raw body>``: the timestamp is signed with the body, so a captured
delivery replayed later fails a receiver's freshness check. ``Modelplane-Delivery`` is
derived from the webhook and the event's log position, the same on every attempt and after
a crash, so a receiver de-duplicates on it.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from uuid import UUID, uuid5

SIGNATURE_PREFIX = "sha256="
#: how far a receiver lets a timestamp stray from its clock (``verify``'s default)
TOLERANCE_SECONDS = 300


def delivery_id(webhook_id: UUID | str, position: int) -> UUID:
    """The id of the delivery of the event at ``position`` to this webhook, on every attempt."""
    return uuid5(UUID(str(webhook_id)), str(position))


def signature(secret: str, timestamp: int | str, body: bytes) -> str:
    """``sha256=<hex>`` of ``<timestamp>.<body>`` keyed by ``secret``."""
    message = str(timestamp).encode("ascii") + b"." + body
    return SIGNATURE_PREFIX + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def headers(
    secret: str, webhook_id: UUID | str, position: int, event_type: str, body: bytes, agent: str
) -> dict[str, str]:
    """The headers of one delivery attempt, signed now."""
    timestamp = int(time.time())
    return {
        "Content-Type": "application/json",
        "User-Agent": agent,
        "Modelplane-Delivery": str(delivery_id(webhook_id, position)),
        "Modelplane-Event": event_type,
        "Modelplane-Timestamp": str(timestamp),
        "Modelplane-Signature": signature(secret, timestamp, body),
    }


def verify(
    secret: str,
    received: Mapping[str, str],
    body: bytes,
    *,
    tolerance: float = TOLERANCE_SECONDS,
    now: float | None = None,
) -> bool:
    """Whether a delivery is genuine: its signature matches ``body`` and its timestamp, and
    the timestamp is within ``tolerance`` seconds of ``now``. ``received``: its headers (any
    case-insensitive mapping, or a dict with the names as sent)."""
    lowered = {key.lower(): value for key, value in received.items()}
    stamp = lowered.get("modelplane-timestamp", "")
    given = lowered.get("modelplane-signature", "")
    if not stamp.isascii() or not stamp.isdigit():
        return False
    if abs((time.time() if now is None else now) - int(stamp)) > tolerance:
        return False
    return hmac.compare_digest(signature(secret, stamp, body), given)
