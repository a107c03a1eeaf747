"""Parsing the CLI's numbers, version selectors and times before they reach the SDK.

Python's ``int()`` takes any Unicode decimal digits (``int('٣') == 3``) and any size, and
``str.isdigit()`` is true for ``²``, which ``int()`` then refuses: left to them, odd input
becomes a wrong answer, an ``OverflowError`` from the database driver, or a traceback. Here
a number is ASCII digits that fit the store's 64-bit integers, and anything else is refused
with one line (a usage error for options, exit 2; a ``ValidationError`` for arguments, exit 1).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import click

from modelplane.domain.errors import ValidationError
from modelplane.domain.names import as_number, is_ascii_digits

from .render import visible

#: The largest log position or version number the store's BIGINT columns hold.
MAX_INT64 = 2**63 - 1
#: Pages beyond this are empty anyway, and the row offset they imply must stay in 64 bits.
MAX_PAGE = 2**31 - 1
#: Moments are clamped into this range, where conversion to any UTC offset cannot overflow;
#: every moment before the first event (or after the last) gives the same answer.
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, tzinfo=UTC)


def ascii_number(value: str) -> int | None:
    """The integer ``value`` spells in ASCII digits, or None if it is not such a number."""
    text = value.strip()
    if is_ascii_digits(text) and len(text) <= 4000:  # int() refuses over 4300 digits
        return int(text)
    return None


class WholeNumber(click.ParamType):
    """An option taking a whole number in ``[low, high]``, written with the digits 0-9."""

    name = "integer"

    def __init__(self, low: int, high: int = MAX_INT64) -> None:
        self.low = low
        self.high = high

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        if isinstance(value, int) and not isinstance(value, bool):
            number: int | None = value
        else:
            number = ascii_number(str(value))
            if number is None:
                self.fail(f"'{visible(value)}' is not a whole number (digits 0-9).", param, ctx)
        assert number is not None
        if not self.low <= number <= self.high:
            self.fail(f"{number} is not in the range {self.low} to {self.high}.", param, ctx)
        return number


def version_selector(value: str) -> str:
    """A VERSION argument (name, number, id or stage), its number checked as the SDK does.

    Only ASCII digits make a number (``"²"`` is a name); a number no version can have is
    refused here with the SDK's own error (``domain.names.as_number``).
    """
    as_number(value)
    return value


def parse_at(value: str | None) -> datetime | int | None:
    """A log position (ASCII digits) or an ISO 8601 time; a time without an offset is UTC.

    That rule is the project's for naive times on every entry point: a time typed at the
    terminal means the same moment for every user of a shared store, whatever their zone.
    """
    if value is None:
        return None
    position = ascii_number(value)
    if position is not None:
        if position > MAX_INT64:
            msg = f"Log position {position} is too large: positions fit in 64 bits (2^63-1)."
            raise ValidationError(msg)
        return position
    refused = (
        f"'{visible(value)}' is neither a log position (digits 0-9) nor an ISO 8601 time "
        "(2026-11-26T09:15:00, UTC unless an offset such as +01:00 is given)."
    )
    if not value.isascii():
        raise ValidationError(refused)
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError(refused) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return _clamped(moment)


def _clamped(moment: datetime) -> datetime:
    """``moment`` in UTC, kept where converting it to a local time cannot overflow."""
    offset = moment.utcoffset() or timedelta(0)
    naive = moment.replace(tzinfo=None)
    # naive - offset is the UTC time; compute it without overflowing at the calendar's ends
    if naive - datetime.min < offset + timedelta(days=1):
        return EARLIEST
    if datetime.max - naive < timedelta(days=1) - offset:
        return LATEST
    return min(max(moment.astimezone(UTC), EARLIEST), LATEST)
