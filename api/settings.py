"""What one server process serves and how, read once from the environment at start-up.

``modelplane server start`` turns its options into these variables before uvicorn starts its
workers, so every worker of one server reads the same settings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from modelplane import config
from modelplane.domain import stages

#: JSON bodies above this are refused with 413 before they are parsed
DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024
#: artifact uploads (the bytes of a stored value) have their own, larger limit
DEFAULT_MAX_UPLOAD_BYTES = 4 * 1024 * 1024 * 1024
#: how long the answer to a write sent with an ``Idempotency-Key`` is kept for its retries
DEFAULT_IDEMPOTENCY_TTL_SECONDS = 86_400
#: how long a keyed write that is running holds its key before a retry may take it over
#: (only a request whose server died before committing ever lets its lease run out)
DEFAULT_IDEMPOTENCY_LEASE_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Settings:
    store_url: str
    max_body_bytes: int
    max_upload_bytes: int
    protected_stages: frozenset[str]
    idempotency_ttl_seconds: int = DEFAULT_IDEMPOTENCY_TTL_SECONDS
    idempotency_lease_seconds: int = DEFAULT_IDEMPOTENCY_LEASE_SECONDS

    @classmethod
    def from_environment(cls) -> Settings:
        return cls(
            store_url=config.store_url(),
            max_body_bytes=_bytes("MODELPLANE_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES),
            max_upload_bytes=_bytes("MODELPLANE_MAX_UPLOAD_BYTES", DEFAULT_MAX_UPLOAD_BYTES),
            protected_stages=protected_stages(),
            idempotency_ttl_seconds=_seconds(
                "MODELPLANE_IDEMPOTENCY_TTL_SECONDS", DEFAULT_IDEMPOTENCY_TTL_SECONDS
            ),
            idempotency_lease_seconds=_seconds(
                "MODELPLANE_IDEMPOTENCY_LEASE_SECONDS", DEFAULT_IDEMPOTENCY_LEASE_SECONDS
            ),
        )


def protected_stages() -> frozenset[str]:
    """``MODELPLANE_PROTECTED_STAGES`` (comma-separated; empty by default): stages only the
    admin role may move a version into or out of."""
    raw = os.environ.get("MODELPLANE_PROTECTED_STAGES", "")
    names = {part.strip().lower() for part in raw.split(",") if part.strip()}
    unknown = names - set(stages.ASSIGNABLE)
    if unknown:
        msg = (
            f"MODELPLANE_PROTECTED_STAGES names {', '.join(sorted(unknown))}, which is not a "
            f"stage; use some of: {', '.join(stages.ASSIGNABLE)}."
        )
        raise config.ConfigError(msg)
    return frozenset(names)


def _bytes(variable: str, default: int) -> int:
    raw = os.environ.get(variable)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 1:
        msg = f"{variable} must be a whole number of bytes of at least 1, not {raw!r}."
        raise config.ConfigError(msg)
    return value


def _seconds(variable: str, default: int) -> int:
    raw = os.environ.get(variable)
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 1:
        msg = f"{variable} must be a whole number of seconds of at least 1, not {raw!r}."
        raise config.ConfigError(msg)
    return value
