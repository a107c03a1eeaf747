"""Reading the log back in tests: "nothing was appended" compares these before and after."""

from __future__ import annotations

from modelplane.client import Client


def log_head(client: Client) -> int:
    """The position of the newest event (0 on an empty log)."""
    events = client.list_events(limit=100_000)
    return events[-1].position if events else 0


def event_count(client: Client) -> int:
    """How many events the log holds."""
    return len(client.list_events(limit=100_000))
