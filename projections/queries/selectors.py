"""What picks a model version: parsed once here, resolved now (``versions``) or at a log
position (``time_travel``) by the same rules.

A selector is None or ``latest`` (the highest live number), a stage (``staging``,
``production``: the one holder; ``none`` and ``archived`` may have several holders and so pick
nothing), a number (an int or ASCII digits), or a name; a name that reads as a UUID is also
a version id, tried after the name. Stage names come from ``modelplane.domain.stages``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from uuid import UUID

from modelplane.domain import stages
from modelplane.domain.names import as_number
from modelplane.domain.stages import selected_stage

from .ids import as_uuid

Kind = Literal["latest", "stage", "number", "name", "id"]


@dataclass(frozen=True, slots=True)
class VersionSelector:
    kind: Kind
    #: The selector as given: what a lookup by name compares and what messages quote.
    text: str
    stage: str | None = None
    number: int | None = None
    id: UUID | None = None

    @classmethod
    def parse(cls, value: object) -> VersionSelector:
        """Raises ``ValidationError`` for a number too large to be a version number.

        The number is checked before the selector is turned into text: ``str()`` of an int
        of thousands of digits is itself an error.
        """
        stage = selected_stage(value)
        if stage == stages.LATEST:
            return cls("latest", str(value), stage=stage)
        if stage is not None:
            return cls("stage", str(value), stage=stage)
        if (number := as_number(value)) is not None:
            return cls("number", str(value), number=number)
        uid = as_uuid(value)
        if uid is not None:
            return cls("id", str(value), id=uid)
        return cls("name", str(value))

    @property
    def exclusive(self) -> bool:
        """Whether the selector is a stage with at most one holder (so it picks a version)."""
        return self.stage in stages.EXCLUSIVE
