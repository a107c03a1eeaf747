"""The registry over the event-sourcing library's in-memory persistence, for the domain's unit
tests: no database, so they check the aggregates and commands alone."""

from __future__ import annotations

from modelplane.domain.registry import Registry


def in_memory_registry() -> Registry:
    return Registry(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})


def head(registry: Registry) -> int:
    """The newest position of the registry's log (0 when empty)."""
    return registry.recorder.max_notification_id() or 0
