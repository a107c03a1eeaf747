"""Key-value tags (MLflow's tags), beside the ZenML-style string tags of models and versions.

A model or version holds each key at most once; setting a key again replaces its value. The
limits are MLflow's registry limits, so whatever an MLflow client may set is accepted: keys
of 1 to 250 characters, values of up to 100,000 characters (the empty value included: MLflow
allows it). A key is an identity, looked up and shown in tables, so it follows the rules of
names where MLflow has none: NFC (normalised here, as names are), no control or invisible
characters. And a key must not read as a path that resolves to another key (``a/../b``,
``/a``, ``a//b``, ``.``): MLflow refuses those, since tags may be stored as files. A value is
free text; only what no store can keep (NUL, lone surrogates) is refused.
"""

from __future__ import annotations

import posixpath

from .errors import ValidationError
from .names import check_visible_text, is_valid_utf8, normalise_name

#: MLflow's limits for registry tags.
MAX_KEY_LENGTH = 250
MAX_VALUE_LENGTH = 100_000


def check_key(key: object) -> str:
    """The key in NFC, or ``ValidationError`` saying which rule it breaks."""
    if not isinstance(key, str):
        msg = f"A tag key must be a string, not {type(key).__name__}."
        raise ValidationError(msg)
    key = normalise_name(key)
    if not key:
        raise ValidationError("A tag key must not be empty.")
    if len(key) > MAX_KEY_LENGTH:
        msg = f"The tag key is {len(key)} characters long; the limit is {MAX_KEY_LENGTH}."
        raise ValidationError(msg)
    check_visible_text(key, "tag key")
    if _path_like(key):
        msg = (
            f"Invalid tag key {key!r}: a key must not start with '/' nor read as a path "
            f"that resolves elsewhere (it would resolve to {posixpath.normpath(key)!r})."
        )
        raise ValidationError(msg)
    return key


def check_value(value: object, key: str) -> str:
    """A tag's value: any string up to the limit that every store can keep."""
    if not isinstance(value, str):
        msg = f"The value of tag '{key}' must be a string, not {type(value).__name__}."
        raise ValidationError(msg)
    if len(value) > MAX_VALUE_LENGTH:
        msg = (
            f"The value of tag '{key}' is {len(value)} characters long; "
            f"the limit is {MAX_VALUE_LENGTH}."
        )
        raise ValidationError(msg)
    if "\x00" in value:
        raise ValidationError(f"The value of tag '{key}' must not contain NUL characters.")
    if not is_valid_utf8(value):
        msg = f"The value of tag '{key}' is not valid UTF-8 (it holds lone surrogates)."
        raise ValidationError(msg)
    return value


def _path_like(key: str) -> bool:
    """Whether the key, read as a path, is not the one path it spells."""
    normal = posixpath.normpath(key)
    return normal != key or normal == "." or normal.startswith(("..", "/"))
