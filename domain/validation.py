"""Input checks shared by every command, and the lossless JSON form of metadata.

Everything here runs before an event is triggered, so a refusal appends nothing, and it
applies the limits of the strictest backend to both: PostgreSQL refuses NUL in text and JSON,
and its ``String(255)`` columns refuse longer values, where SQLite would accept them. A user
must get the same answer, a ``ValidationError``, whichever store they use.

Metadata is logged as JSON, which has no NaN or infinity (orjson writes them as ``null``) and
whose integers stop at 64 bits in orjson. A NaN loss is a fact about a run, so those values
are written as tagged objects, ``{"$float": "NaN"}`` or ``{"$int": "1234..."}``, and decoded
wherever metadata is read back. A user's own dict of that shape (one key, a tag name) is
escaped as ``{"$dict": {...}}``, so no stored value is ambiguous. Only exactly those shapes
are special, which leaves metadata logged before this encoding existed readable as it was.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from datetime import UTC, date, datetime, time
from typing import Any
from uuid import UUID

import orjson

from .errors import ValidationError
from .model_card import DESCRIPTIVE_FIELDS
from .names import INT64_MAX, INT64_MIN, MAX_NAME_LENGTH, check_int64, is_valid_utf8

__all__ = [
    "MAX_KEY_LENGTH",
    "MAX_TEXT_LENGTH",
    "check_actor",
    "check_event_fields",
    "check_fields",
    "check_int64",
    "check_moment",
    "check_paging",
    "check_text",
    "clean_metadata",
    "decode_event_payload",
    "decode_metadata",
    "decode_value",
    "encode_metadata",
]

#: ``mp_metadata.key`` is ``String(255)``.
MAX_KEY_LENGTH = 255
#: Descriptions, reasons and model card fields.
MAX_TEXT_LENGTH = 65_536
#: Deeper values are refused: orjson stops at 255 levels, and a cycle would never end.
MAX_DEPTH = 128

FLOAT_TAG = "$float"
INT_TAG = "$int"
DICT_TAG = "$dict"
_TAGS = frozenset({FLOAT_TAG, INT_TAG, DICT_TAG})
_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


# ----------------------------------------------------------------------------- text


def check_text(value: object, what: str) -> None:
    """A description, reason or model card field: a string (or None) that any store keeps."""
    if value is None:
        return
    if not isinstance(value, str):
        msg = f"The {what} must be a string, not {type(value).__name__}."
        raise ValidationError(msg)
    if len(value) > MAX_TEXT_LENGTH:
        msg = f"The {what} is {len(value)} characters long; the limit is {MAX_TEXT_LENGTH}."
        raise ValidationError(msg)
    if "\x00" in value:
        msg = f"The {what} must not contain NUL characters."
        raise ValidationError(msg)
    if not is_valid_utf8(value):
        msg = f"The {what} is not valid UTF-8 (it holds lone surrogates): {value[:80]!r}."
        raise ValidationError(msg)


def check_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """A model's descriptive fields (license, description, ...), None values dropped."""
    unknown = set(fields) - set(DESCRIPTIVE_FIELDS)
    if unknown:
        msg = f"Unknown model field(s): {', '.join(sorted(unknown))}."
        raise ValidationError(msg)
    for key, value in fields.items():
        check_text(value, key)
    return {k: v for k, v in fields.items() if v is not None}


def check_actor(actor: object) -> str:
    """Who is acting, as every event records it (``created_by``/``actor`` are String(255))."""
    if not isinstance(actor, str) or not actor.strip():
        msg = f"The actor (MODELPLANE_ACTOR) must be a non-empty string, not {actor!r}."
        raise ValidationError(msg)
    if len(actor) > MAX_NAME_LENGTH:
        msg = (
            f"The actor (MODELPLANE_ACTOR) is {len(actor)} characters long; "
            f"the limit is {MAX_NAME_LENGTH}."
        )
        raise ValidationError(msg)
    if not is_valid_utf8(actor):
        msg = f"The actor (MODELPLANE_ACTOR) {actor!r} is not valid UTF-8."
        raise ValidationError(msg)
    if any(ord(c) < 32 or 127 <= ord(c) < 160 for c in actor):
        msg = f"The actor (MODELPLANE_ACTOR) {actor!r} must not contain control characters."
        raise ValidationError(msg)
    return actor


# ------------------------------------------------------------------- numbers, moments


def check_paging(page: object, size: object) -> None:
    """Page and size are ints >= 1 whose offset fits the database's 64-bit integers."""
    for what, value in (("page", page), ("size", size)):
        if isinstance(value, bool) or not isinstance(value, int):
            msg = f"{what} must be an integer, not {type(value).__name__}."
            raise ValidationError(msg)
        if value < 1:
            raise ValidationError("page and size must be at least 1.")
        check_int64(value, what)
    assert isinstance(page, int) and isinstance(size, int)
    if page * size > INT64_MAX:
        msg = f"page {page} of size {size} lies beyond any store (offset over 64 bits)."
        raise ValidationError(msg)


def check_moment(moment: object) -> None:
    """An ``at=``/``until=`` moment the database can compare: a position within 64 bits, or
    a datetime that converts to UTC (``datetime(1, 1, 1)`` in a zone east of UTC does not;
    a naive datetime is UTC)."""
    if isinstance(moment, bool):
        return  # refused as "not a datetime or a log position" by the caller
    if isinstance(moment, int):
        check_int64(moment, "log position")
    elif isinstance(moment, datetime):
        try:
            if moment.tzinfo is not None:
                moment.astimezone(UTC)
        except (OverflowError, ValueError, OSError) as error:
            msg = (
                f"The moment {moment.isoformat()} cannot be placed in UTC ({error}); "
                "give a datetime between the years 2 and 9998."
            )
            raise ValidationError(msg) from None


# ------------------------------------------------------------------------- metadata


def clean_metadata(metadata: object, *, allow_empty: bool = False) -> dict[str, Any]:
    """Metadata checked now and made plain Python (numpy scalars become numbers).

    The result still holds NaN and big integers as Python values; ``encode_metadata``
    makes it what the log holds. Cleaning a cleaned dict returns an equal dict, so a step
    may check its deferred metadata early and log it later.
    """
    if not isinstance(metadata, dict) or (not metadata and not allow_empty):
        msg = "metadata must be a non-empty dict of {key: value}."
        raise ValidationError(msg)
    clean: dict[str, Any] = {}
    for key, value in metadata.items():
        if not isinstance(key, str) or not key:
            msg = f"Metadata keys must be non-empty strings, not {key!r}."
            raise ValidationError(msg)
        _check_key(key)
        clean[str.__str__(key)] = _plain(value, key, 1)
    return clean


def encode_metadata(metadata: object, *, allow_empty: bool = False) -> dict[str, Any]:
    """Metadata as the log holds it: checked, then JSON-native and lossless (see module)."""
    return {k: _encode(v) for k, v in clean_metadata(metadata, allow_empty=allow_empty).items()}


def decode_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """The values of a logged metadata (or parameters) dict as they were logged."""
    return {key: decode_value(value) for key, value in metadata.items()}


def decode_value(value: Any) -> Any:
    """One logged value as it was logged: tagged floats, big ints and escaped dicts undone."""
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((tag, inner),) = value.items()
        if tag == FLOAT_TAG and isinstance(inner, str) and inner in _NON_FINITE:
            return _NON_FINITE[inner]
        if tag == INT_TAG and isinstance(inner, str):
            try:
                return int(inner)
            except ValueError:
                return value
        if tag == DICT_TAG and isinstance(inner, dict):
            return {k: decode_value(v) for k, v in inner.items()}
    return {k: decode_value(v) for k, v in value.items()}


def decode_event_payload(payload: dict[str, Any]) -> dict[str, Any]:
    """An event's payload with its metadata and run parameters decoded (``list_events``)."""
    for field in ("metadata", "parameters"):
        if isinstance(payload.get(field), dict):
            payload[field] = decode_metadata(payload[field])
    return payload


def _check_key(key: str, where: str = "") -> None:
    if len(key) > MAX_KEY_LENGTH:
        msg = (
            f"The metadata key {key[:40]!r}... is {len(key)} characters long; "
            f"the limit is {MAX_KEY_LENGTH}."
        )
        raise ValidationError(msg)
    _check_string(key, where or key[:40])


def _check_string(text: str, where: str) -> None:
    if "\x00" in text:
        msg = f"Metadata must not contain NUL characters (in {where!r})."
        raise ValidationError(msg)
    if not is_valid_utf8(text):
        msg = f"Metadata text must be valid UTF-8, without lone surrogates (in {where!r})."
        raise ValidationError(msg)


def _plain(value: Any, where: str, depth: int) -> Any:
    """A value as plain Python JSON types (str, int, float, bool, None, list, dict)."""
    if depth > MAX_DEPTH:
        msg = f"Metadata '{where}' is nested more than {MAX_DEPTH} levels deep (or is circular)."
        raise ValidationError(msg)
    kind = type(value)
    if value is None or kind is bool or kind is int or kind is float:
        return value
    if kind is str:
        _check_string(value, where)
        return value
    if isinstance(value, dict):
        plain: dict[str, Any] = {}
        for key, item in value.items():
            name = _plain_key(key, where)
            if name in plain:
                msg = f"Metadata '{where}' has the key {name!r} twice once keys are strings."
                raise ValidationError(msg)
            plain[name] = _plain(item, where, depth + 1)
        return plain
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(item, where, depth + 1) for item in value]
    if kind.__module__ == "numpy" or kind.__module__.startswith("numpy."):
        return _plain(_numpy_scalar(value, where), where, depth + 1)
    if isinstance(value, enum.Enum):
        return _plain(value.value, where, depth + 1)
    if isinstance(value, bool):  # bool subclasses do not exist, but keep the order exact
        return bool(value)
    if isinstance(value, str):
        return _plain(str.__str__(value), where, depth)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, (datetime, date, time)):
        try:  # ISO 8601, as the log always wrote them
            return orjson.loads(orjson.dumps(value))
        except TypeError:  # pandas' NaT and other subclasses orjson does not write
            msg = f"Metadata '{where}' holds a {kind.__name__} that is not a valid time."
            raise ValidationError(msg) from None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return _plain(fields, where, depth + 1)
    msg = f"Metadata must be JSON-serializable: '{where}' holds a {kind.__name__}."
    raise ValidationError(msg)


def _plain_key(key: object, where: str) -> str:
    if isinstance(key, str):
        name = str.__str__(key)
    elif isinstance(key, UUID):
        name = str(key)
    elif isinstance(key, int) and not isinstance(key, bool):
        name = str(int(key))
    else:
        msg = f"Keys inside metadata '{where}' must be strings or integers, not {key!r}."
        raise ValidationError(msg)
    _check_string(name, where)
    return name


def _numpy_scalar(value: Any, where: str) -> Any:
    """A numpy scalar (or 0-d array) as the Python value it holds; numpy is never imported."""
    shape = getattr(value, "shape", ())
    item = getattr(value, "item", None)
    if getattr(getattr(value, "dtype", None), "kind", "") in ("M", "m"):
        # datetime64/timedelta64: .item() may give an int of nanoseconds, not a time
        msg = f"Metadata '{where}' holds a numpy {type(value).__name__}: log it as a string."
        raise ValidationError(msg)
    if shape != () or item is None:
        msg = (
            f"Metadata '{where}' holds a numpy array of shape {shape}: log a scalar, or "
            "the array's .tolist()."
        )
        raise ValidationError(msg)
    plain = item()
    if type(plain).__module__ == "numpy" or not isinstance(
        plain, (bool, int, float, str, bytes, type(None), datetime, date)
    ):
        msg = f"Metadata '{where}' holds a {type(value).__name__}, which is not a JSON value."
        raise ValidationError(msg)
    if isinstance(plain, bytes):
        msg = f"Metadata '{where}' holds bytes ({type(value).__name__}): decode them first."
        raise ValidationError(msg)
    return plain


def _encode(value: Any) -> Any:
    """A plain value as JSON-native data with nothing lost (see the module docstring)."""
    kind = type(value)
    if kind is float:
        if math.isfinite(value):
            return value
        if math.isnan(value):
            return {FLOAT_TAG: "NaN"}
        return {FLOAT_TAG: "Infinity" if value > 0 else "-Infinity"}
    if kind is int:
        if INT64_MIN <= value <= INT64_MAX:
            return value
        try:
            return {INT_TAG: str(value)}
        except ValueError:  # beyond Python's int-to-str limit (4300 digits)
            msg = "A metadata integer has more than 4300 digits; log it as a string."
            raise ValidationError(msg) from None
    if kind is list:
        return [_encode(v) for v in value]
    if kind is dict:
        encoded = {k: _encode(v) for k, v in value.items()}
        if len(encoded) == 1 and next(iter(encoded)) in _TAGS:
            return {DICT_TAG: encoded}
        return encoded
    return value


# ---------------------------------------------------------------------------- events

#: Event fields stored in length-limited columns of the read tables (projections/tables.py),
#: with their limits. A longer value would be accepted by SQLite and refused by PostgreSQL.
FIELD_LIMITS: dict[str, int] = {
    "name": MAX_NAME_LENGTH,
    "old_name": MAX_NAME_LENGTH,
    "new_name": MAX_NAME_LENGTH,
    "version_name": MAX_NAME_LENGTH,
    "displaced_version_name": MAX_NAME_LENGTH,
    "artifact_name": MAX_NAME_LENGTH,
    "pipeline": MAX_NAME_LENGTH,
    "step": MAX_NAME_LENGTH,
    "actor": MAX_NAME_LENGTH,
    "materializer": 255,
    "data_type": 512,
    "artifact_type": 16,
    "content_hash": 64,
    "kind": 16,
    "stage": 16,
    "previous_stage": 16,
    "status": 16,
    "model_version_how": 16,
    "alias": MAX_NAME_LENGTH,
    "key": MAX_NAME_LENGTH,
}
#: Fields whose dict keys land in length-limited columns (``mp_artifact_consumers.input_name``).
KEYED_FIELDS: dict[str, int] = {"inputs": MAX_NAME_LENGTH, "outputs": MAX_NAME_LENGTH}


def check_event_fields(state: dict[str, Any]) -> None:
    """The last check before an event is written, whatever command triggered it.

    Commands check their own arguments with clearer messages; this catches any value that
    slipped through (a step or pipeline name, a materializer's name, an error text) and
    would be stored on SQLite but refused by PostgreSQL, or not stored at all.
    """
    for field, value in state.items():
        limit = FIELD_LIMITS.get(field)
        if limit is not None and isinstance(value, str) and len(value) > limit:
            what = field.replace("_", " ")
            msg = f"The {what} is {len(value)} characters long; the limit is {limit}."
            raise ValidationError(msg)
        key_limit = KEYED_FIELDS.get(field)
        if key_limit is not None and isinstance(value, dict):
            for key in value:
                if isinstance(key, str) and len(key) > key_limit:
                    msg = (
                        f"The {field[:-1]} name {key[:40]!r}... is {len(key)} characters long;"
                        f" the limit is {key_limit}."
                    )
                    raise ValidationError(msg)
        _check_event_text(value, field, 0)


def _check_event_text(value: Any, field: str, depth: int) -> None:
    if isinstance(value, str):
        if "\x00" in value:
            msg = f"The {field.replace('_', ' ')} must not contain NUL characters."
            raise ValidationError(msg)
        if not is_valid_utf8(value):
            msg = f"The {field.replace('_', ' ')} is not valid UTF-8 (it holds lone surrogates)."
            raise ValidationError(msg)
    elif depth > MAX_DEPTH:
        return  # orjson refuses it below with its own error; metadata was checked already
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_event_text(key, field, depth + 1)
            _check_event_text(item, field, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_event_text(item, field, depth + 1)
