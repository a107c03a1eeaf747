"""The ``expected_holder`` precondition of a promotion: "move this version into the stage
only if the stage is still held by X" (or, with ``"none"``, "only if it is still empty").

A CI job reads production, decides, then promotes: without the precondition a promotion that
another job made in between is silently archived. The rule is checked by ``Model`` inside the
command that appends the promotion, so the check and the append are one optimistic-concurrency
unit: a writer that got in between makes the save conflict and the command re-runs, and
re-checks, on the log's state.

X names a version as the SDK does (its name, its number or its full id), so a caller can pass
back what it read. Custom version names are never all digits, never a stage name (so never
``none``) and compared after NFC normalisation, so the three forms cannot be confused.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from uuid import UUID

from . import stages
from .errors import PreconditionFailedError, ValidationError
from .names import MAX_NAME_LENGTH, normalise_name
from .validation import check_text

if TYPE_CHECKING:
    from .model_version import ModelVersion

#: What ``expected_holder`` says for "the stage must be empty".
EMPTY = stages.NONE

__all__ = ["EMPTY", "check_expected_holder", "check_holder"]


def check_expected_holder(value: object, stage: str | None) -> str | None:
    """The precondition in canonical form (``EMPTY``, a name, digits or an id), or None.

    It only means something for a promotion into an exclusive stage: elsewhere any number of
    versions are "holders", so asking for one is refused as a mistake rather than ignored.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValidationError("expected_holder must be a version name, number or id, or 'none'.")
    if isinstance(value, int):
        if value < 0:
            raise ValidationError(f"expected_holder {value} is not a version number.")
        text = str(value)
    elif isinstance(value, UUID):
        text = str(value)
    elif isinstance(value, str):
        text = normalise_name(value).strip()
    else:
        msg = "expected_holder must be a version name, number or id, or 'none'."
        raise ValidationError(msg)
    if not text or len(text) > MAX_NAME_LENGTH:
        msg = (
            f"expected_holder must be a version name, number or id of at most "
            f"{MAX_NAME_LENGTH} characters, or 'none'."
        )
        raise ValidationError(msg)
    check_text(text, "expected_holder")
    if stage is None:
        raise ValidationError("expected_holder is a condition on a promotion: pass a stage too.")
    if stage not in stages.EXCLUSIVE:
        msg = (
            f"expected_holder applies to {' and '.join(stages.EXCLUSIVE)}, which one version "
            f"holds at a time; '{stage}' may hold many."
        )
        raise ValidationError(msg)
    return EMPTY if text.lower() == EMPTY else text


def check_holder(expected: str, stage: str, holder: ModelVersion | None, model_name: str) -> None:
    """Refuse (``PreconditionFailedError``) unless ``holder`` (None: the stage is empty) is
    the version ``expected`` names."""
    if holder is None:
        if expected == EMPTY:
            return
        msg = (
            f"Stage {stage} of model '{model_name}' is empty, not held by '{expected}' as "
            f"expected; nothing was changed."
        )
        raise PreconditionFailedError(msg, stage=stage, holder=None, expected=expected)
    if expected in (holder.name, str(holder.number)) or _as_uuid(expected) == holder.id:
        return
    wanted = "empty" if expected == EMPTY else f"held by '{expected}'"
    msg = (
        f"Stage {stage} of model '{model_name}' is held by version '{holder.name}' "
        f"({holder.id}), not {wanted} as expected; nothing was changed."
    )
    raise PreconditionFailedError(msg, stage=stage, holder=holder.name, expected=expected)


def _as_uuid(text: str) -> UUID | None:
    try:
        return UUID(text)
    except ValueError:
        return None
