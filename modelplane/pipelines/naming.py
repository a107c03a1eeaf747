"""Run names and templated model version names, rendered once per run.

ZenML renders ``{date}`` and ``{time}`` (and user substitutions) with ``str.format``, which
cannot slice: the seed's own ``version="run-{run.id[:8]}"`` fails there, after the model was
already created. Here a placeholder is a dotted key with an optional ``[index]`` or
``[start:stop]``, evaluated against the run's values, and the whole name is rendered before
anything is written, so a bad template costs nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from modelplane.domain.errors import ValidationError
from modelplane.domain.names import normalise_name

#: ZenML's formats: ``2026_11_26`` and ``09_15_37_271010`` (UTC).
DATE_FORMAT = "%Y_%m_%d"
TIME_FORMAT = "%H_%M_%S_%f"

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_KEY = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(?:\[\s*(-?\d*)\s*(:)?\s*(-?\d*)\s*\])?\s*$")

_last_started: datetime | None = None
_ONE_MICROSECOND = timedelta(microseconds=1)


def run_start_time() -> datetime:
    """The current UTC time, strictly later than the previous run's in this process.

    Run names carry the time to the microsecond; nudging a tie forward keeps names unique
    when two runs start within the same microsecond.
    """
    global _last_started
    now = datetime.now(UTC)
    if _last_started is not None and now <= _last_started:
        now = _last_started + _ONE_MICROSECOND
    _last_started = now
    return now


@dataclass(frozen=True)
class RunNaming:
    """The values a run's templates may use, fixed when the run is prepared."""

    run_id: UUID
    pipeline: str
    started: datetime
    substitutions: dict[str, str] = field(default_factory=dict)

    @property
    def date(self) -> str:
        return self.started.strftime(DATE_FORMAT)

    @property
    def time(self) -> str:
        return self.started.strftime(TIME_FORMAT)

    @property
    def run_name(self) -> str:
        """``<pipeline>-<date>-<time>``, ZenML's default run name."""
        return f"{self.pipeline}-{self.date}-{self.time}"

    def values(self) -> dict[str, Any]:
        """Every key a template may name (substitutions may override date and time)."""
        return {
            "date": self.date,
            "time": self.time,
            "run.id": str(self.run_id),
            "run.name": self.run_name,
            "pipeline.name": self.pipeline,
            **self.substitutions,
        }

    def render(self, template: str) -> str:
        """``template`` with each ``{key}`` / ``{key[a:b]}`` replaced; unknown keys are refused."""
        if "{" not in template and "}" not in template:
            return template
        values = self.values()

        def replace(match: re.Match[str]) -> str:
            return _evaluate(match.group(1), values, template)

        rendered = _PLACEHOLDER.sub(replace, template)
        if "{" in rendered or "}" in rendered:
            msg = f"Unbalanced braces in the version name template '{template}'."
            raise ValidationError(msg)
        return normalise_name(rendered)  # joined NFC parts need not be NFC


def _evaluate(expression: str, values: dict[str, Any], template: str) -> str:
    parsed = _KEY.match(expression)
    if parsed is None:
        msg = f"Cannot read '{{{expression}}}' in the version name template '{template}'."
        raise ValidationError(msg)
    key, start, colon, stop = parsed.groups()
    if key not in values:
        known = ", ".join("{" + k + "}" for k in sorted(values))
        msg = (
            f"Unknown placeholder '{{{key}}}' in the version name template '{template}'; "
            f"known: {known} (add your own with substitutions=)."
        )
        raise ValidationError(msg)
    text = str(values[key])
    if colon:
        return text[int(start) if start else None : int(stop) if stop else None]
    if start:
        try:
            return text[int(start)]
        except IndexError:
            msg = f"'{{{expression}}}' is out of range in the template '{template}'."
            raise ValidationError(msg) from None
    return text
