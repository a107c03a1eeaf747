"""Query parameters that name a point of the log: a position (ASCII digits) or an ISO 8601
time. The backend resolves either to a position (a time without an offset is UTC there)."""

from __future__ import annotations

from datetime import datetime

from modelplane.domain.errors import ValidationError


def position_or_time(value: str | None, name: str) -> datetime | int | None:
    """``value`` as a position or a time (None stays None); ``name`` is the parameter's, for
    the refusal."""
    if value is None:
        return None
    if value.isascii() and value.isdigit():
        return int(value)
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        msg = f"{name} must be a log position or an ISO 8601 time, not {value!r}."
        raise ValidationError(msg) from None
