"""Stage names and the rules about them.

``latest`` is virtual (the highest version number) and never stored; ``staging`` and
``production`` are exclusive (one holder per model); ``none`` and ``archived`` may be held by
any number of versions.
"""

from __future__ import annotations

from .errors import ValidationError

NONE = "none"
STAGING = "staging"
PRODUCTION = "production"
ARCHIVED = "archived"
LATEST = "latest"
#: Not a stage a version can be in: what the stage history shows when a stage's holder
#: leaves it because the version or its model was deleted.
DELETED = "deleted"

ASSIGNABLE: tuple[str, ...] = (NONE, STAGING, PRODUCTION, ARCHIVED)
EXCLUSIVE: tuple[str, ...] = (STAGING, PRODUCTION)
ALL: tuple[str, ...] = (*ASSIGNABLE, LATEST)


def assignable_stage(value: object) -> str:
    """Normalise a stage a version can be moved into, refusing ``latest`` and typos."""
    stage = str(getattr(value, "value", value)).strip().lower()
    if stage == LATEST:
        msg = "'latest' is a virtual stage (the highest version number) and cannot be assigned."
        raise ValidationError(msg)
    if stage not in ASSIGNABLE:
        msg = f"'{value}' is not a valid model stage; use one of: {', '.join(ASSIGNABLE)}."
        raise ValidationError(msg)
    return stage


def selected_stage(selector: object) -> str | None:
    """The stage a version selector names (``latest`` for None), or None if it is not one.

    Any case, and an enum holding a stage (``ModelStages.PRODUCTION``), name the stage.
    """
    if selector is None:
        return LATEST
    value = getattr(selector, "value", selector)
    if isinstance(value, str) and value.lower() in ALL:
        return value.lower()
    return None
