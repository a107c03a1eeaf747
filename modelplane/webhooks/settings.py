"""How a server process delivers webhooks, read once from the environment as it starts.

``MODELPLANE_WEBHOOKS=off`` runs no deliverer in this process (another process over the same
store may still deliver). The times are seconds:

- ``MODELPLANE_WEBHOOK_TIMEOUT_SECONDS`` (10): each of connecting, sending and waiting for
  the answer of one attempt; past it the attempt failed and is retried.
- ``MODELPLANE_WEBHOOK_BACKOFF_SECONDS`` (1) and ``MODELPLANE_WEBHOOK_BACKOFF_MAX_SECONDS``
  (300): the wait after the n-th failed attempt of an event is up to base * 2^(n-1), at most
  the cap, randomised down to half of it (jitter), so failing targets are not hit in step.
- ``MODELPLANE_WEBHOOK_LEASE_SECONDS`` (30): how long a process's claim on a webhook holds
  without renewal (renewed every third of it). A process that dies is replaced after at
  most this long. It must exceed the timeout, so that one attempt always fits in a claim.
- ``MODELPLANE_WEBHOOK_POLL_SECONDS`` (0.25): how often the live webhooks, their leases and
  the log's head are read (a process delivering a webhook is also woken by each append:
  ``modelplane.head_watch``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from modelplane import config

_SWITCH = {"on": True, "1": True, "true": True, "off": False, "0": False, "false": False}


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    enabled: bool = True
    timeout: float = 10.0
    backoff: float = 1.0
    backoff_max: float = 300.0
    lease: float = 30.0
    poll: float = 0.25

    @classmethod
    def from_environment(cls) -> WebhookSettings:
        raw = os.environ.get("MODELPLANE_WEBHOOKS", "on").strip().lower() or "on"
        if raw not in _SWITCH:
            raise config.ConfigError(f"MODELPLANE_WEBHOOKS must be on or off, not {raw!r}.")
        default = cls()
        found = cls(
            enabled=_SWITCH[raw],
            timeout=_seconds("MODELPLANE_WEBHOOK_TIMEOUT_SECONDS", default.timeout),
            backoff=_seconds("MODELPLANE_WEBHOOK_BACKOFF_SECONDS", default.backoff),
            backoff_max=_seconds("MODELPLANE_WEBHOOK_BACKOFF_MAX_SECONDS", default.backoff_max),
            lease=_seconds("MODELPLANE_WEBHOOK_LEASE_SECONDS", default.lease),
            poll=_seconds("MODELPLANE_WEBHOOK_POLL_SECONDS", default.poll),
        )
        if found.lease <= found.timeout:
            msg = (
                f"MODELPLANE_WEBHOOK_LEASE_SECONDS ({found.lease:g}) must exceed "
                f"MODELPLANE_WEBHOOK_TIMEOUT_SECONDS ({found.timeout:g}): one delivery attempt "
                "must fit in a claim, or two processes could deliver one webhook at once."
            )
            raise config.ConfigError(msg)
        return found


def _seconds(variable: str, default: float) -> float:
    raw = os.environ.get(variable)
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 < value <= 86_400:
        raise config.ConfigError(f"{variable} must be seconds in (0, 86400], not {raw!r}.")
    return value
