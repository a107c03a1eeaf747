"""Validation of the names users give to models and versions."""

from __future__ import annotations

from .errors import ValidationError
from .stages import ALL as ALL_STAGES

MAX_NAME_LENGTH = 255


def check_name(name: object, what: str) -> str:
    """Return a valid name or raise: names end up in URLs, CLI arguments and file paths."""
    if not isinstance(name, str):
        msg = f"The {what} name must be a string, not {type(name).__name__}."
        raise ValidationError(msg)
    if not name or not name.strip():
        msg = f"The {what} name must not be empty."
        raise ValidationError(msg)
    if len(name) > MAX_NAME_LENGTH:
        msg = f"The {what} name is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}."
        raise ValidationError(msg)
    if name != name.strip():
        msg = f"The {what} name '{name}' must not start or end with whitespace."
        raise ValidationError(msg)
    if "/" in name or any(ord(c) < 32 or ord(c) == 127 for c in name):
        msg = f"The {what} name {name!r} must not contain '/' or control characters."
        raise ValidationError(msg)
    return name


def check_version_name(name: object) -> str:
    """Refuse names that would be ambiguous with a version number or a stage selector."""
    valid = check_name(name, "version")
    if valid.isdigit():
        msg = f"Can't create model version with custom numeric model version name '{valid}'."
        raise ValidationError(msg)
    if valid.lower() in ALL_STAGES:
        msg = (
            f"Can't create model version with a name that is used as a model version stage "
            f"({', '.join(ALL_STAGES)}): '{valid}'."
        )
        raise ValidationError(msg)
    return valid


def check_tags(tags: object) -> list[str]:
    """Tags are short non-empty strings; order is kept, duplicates dropped."""
    if tags is None:
        return []
    if isinstance(tags, str):
        tags = [tags]
    result: list[str] = []
    for tag in tags:  # type: ignore[attr-defined]
        if (
            not isinstance(tag, str)
            or not tag.strip()
            or len(tag) > MAX_NAME_LENGTH
            or any(ord(c) < 32 for c in tag)
        ):
            msg = (
                f"Invalid tag {tag!r}: tags are non-empty strings of at most "
                f"{MAX_NAME_LENGTH} characters, without control characters."
            )
            raise ValidationError(msg)
        if tag not in result:
            result.append(tag)
    return result
