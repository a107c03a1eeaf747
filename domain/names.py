"""Validation of the names users give to models, versions, artifacts, runs and tags.

Names are identities: they are looked up, shown in tables and typed on command lines. So
two names that look the same must be the same name (Unicode NFC: a composed and a decomposed
"é" are one name), and a name must not hide characters a reader cannot see: control and
format characters (``Cc``, ``Cf``: zero-width spaces, bidi overrides), line and paragraph
separators (``Zl``, ``Zp``). Text must also be storable: lone surrogates (what Python makes of
bytes that are not UTF-8, e.g. from the environment) cannot be written as UTF-8 by either
backend. The domain refuses a name that is not NFC; the SDK normalises names at its entry
points (``normalise_name``) so that users never see that refusal.
"""

from __future__ import annotations

import functools
import inspect
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from typing import ParamSpec, TypeVar
from uuid import UUID

from .errors import ValidationError
from .stages import ALL as ALL_STAGES

MAX_NAME_LENGTH = 255

#: Unicode categories refused in names and tags: control, format, line and paragraph
#: separators (invisible, or able to reorder or break what a terminal shows).
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})

#: The range every number that reaches SQL must fit (BIGINT on PostgreSQL, INTEGER on
#: SQLite); beyond it the drivers raise OverflowError instead of answering "not found".
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
#: Version numbers are ``INTEGER`` columns: PostgreSQL compares a parameter cast to 32 bits.
MAX_VERSION_NUMBER = 2**31 - 1

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")


def normalise_name(name: T) -> T:
    """A name in NFC (the form the registry stores); anything else (ids, numbers) as is.

    Every SDK entry point that takes a name passes it through here, so that a name typed in
    decomposed form finds, and collides with, the same name typed composed. A NUL or a lone
    surrogate is refused here, before any lookup: no name can hold one (the registry refuses
    them when names are made), and PostgreSQL and the UTF-8 codec would otherwise fail the
    query instead of answering, so the same text would be "not found" on one store and an
    internal error on another.
    """
    if not isinstance(name, str):
        return name
    if "\x00" in name or not is_valid_utf8(name):
        msg = f"{name!r} cannot be a name: it holds a NUL or a lone surrogate."
        raise ValidationError(msg)
    if not unicodedata.is_normalized("NFC", name):
        return unicodedata.normalize("NFC", name)  # type: ignore[return-value]
    return name


def normalise_names(names: T) -> T:
    """``normalise_name`` over a list of tags (a single name, id or None: as ``normalise_name``)."""
    if isinstance(names, (list, tuple, set, frozenset, Iterator)):
        return [normalise_name(n) for n in names]  # type: ignore[return-value]
    return normalise_name(names)


def is_valid_utf8(text: str) -> bool:
    """False for text holding lone surrogates, which no backend can store."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def check_visible_text(text: str, what: str) -> None:
    """Refuse text that is not UTF-8, not NFC, or holds Cc/Cf/Zl/Zp characters."""
    if not is_valid_utf8(text):
        msg = f"The {what} {text!r} is not valid UTF-8 (it holds lone surrogates)."
        raise ValidationError(msg)
    for char in text:
        category = unicodedata.category(char)
        if category in REFUSED_CATEGORIES:
            msg = (
                f"The {what} {text!r} contains the invisible or control character "
                f"U+{ord(char):04X} (Unicode category {category})."
            )
            raise ValidationError(msg)
    if not unicodedata.is_normalized("NFC", text):
        msg = f"The {what} {text!r} is not in Unicode NFC form."
        raise ValidationError(msg)


def is_uuid_shaped(text: str) -> bool:
    """True for text ``uuid.UUID()`` accepts: looked up, it would be taken as an id."""
    try:
        UUID(text)
    except ValueError:
        return False
    return True


def check_name(name: object, what: str) -> str:
    """Return the name in NFC, or raise: names end up in URLs, CLI arguments and file paths.

    Normalising here, where every command checks its names, means no entry point can write
    a second spelling of a name, whether or not it normalised first.
    """
    if not isinstance(name, str):
        msg = f"The {what} name must be a string, not {type(name).__name__}."
        raise ValidationError(msg)
    name = normalise_name(name)
    if not name or not name.strip():
        msg = f"The {what} name must not be empty."
        raise ValidationError(msg)
    if len(name) > MAX_NAME_LENGTH:
        msg = f"The {what} name is {len(name)} characters long; the limit is {MAX_NAME_LENGTH}."
        raise ValidationError(msg)
    check_visible_text(name, f"{what} name")
    if name != name.strip():
        msg = f"The {what} name '{name}' must not start or end with whitespace."
        raise ValidationError(msg)
    if "/" in name:
        msg = f"The {what} name {name!r} must not contain '/' or control characters."
        raise ValidationError(msg)
    if what == "model" and is_uuid_shaped(name):
        # get_model/delete_model(name_or_id) try an id first: this name could select the
        # model whose id it is.
        msg = f"The model name '{name}' has the shape of a UUID, which is taken as an id."
        raise ValidationError(msg)
    return name


def is_ascii_digits(text: str) -> bool:
    """``str.isdigit`` for ASCII only: ``"²".isdigit()`` is True and ``int("²")`` raises."""
    return text.isascii() and text.isdigit()


def as_number(value: object, what: str = "version number") -> int | None:
    """The version number a selector denotes (an int, or a string of ASCII digits), else None.

    A number beyond what a version number column holds (32 bits) is refused here, before it
    reaches the database, where it would be an ``OverflowError`` or a driver error.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and is_ascii_digits(value):
        digits = value.lstrip("0") or "0"
        if len(digits) > 19:  # also keeps int() clear of its 4300-digit limit
            msg = f"The {what} {digits[:30]}... is too large (the limit is {MAX_VERSION_NUMBER})."
            raise ValidationError(msg)
        number = int(digits)
    else:
        return None
    if not -MAX_VERSION_NUMBER - 1 <= number <= MAX_VERSION_NUMBER:
        msg = f"The {what} {_show(number)} is too large (the limit is {MAX_VERSION_NUMBER})."
        raise ValidationError(msg)
    return number


def check_int64(value: int, what: str) -> int:
    """Refuse an integer the database cannot hold (64 bits), with a typed error."""
    if isinstance(value, bool) or not isinstance(value, int):
        msg = f"The {what} must be an integer, not {type(value).__name__}."
        raise ValidationError(msg)
    if not INT64_MIN <= value <= INT64_MAX:
        msg = f"The {what} {_show(value)} does not fit in 64 bits (the limit is {INT64_MAX})."
        raise ValidationError(msg)
    return value


def _show(number: int) -> str:
    """An int for a message (``str()`` refuses ints of more than 4300 digits)."""
    return str(number) if number.bit_length() < 1000 else f"of {number.bit_length()} bits"


def check_version_name(name: object) -> str:
    """Refuse names that would be ambiguous with a version number or a stage selector."""
    valid = check_name(name, "version")
    if is_ascii_digits(valid):
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
    """Tags follow the rules of names (a tag may hold '/'); order is kept, duplicates dropped."""
    if tags is None:
        return []
    if isinstance(tags, str):
        tags = [tags]
    result: list[str] = []
    for tag in tags:  # type: ignore[attr-defined]
        tag = normalise_name(tag)
        if not isinstance(tag, str) or not tag.strip() or len(tag) > MAX_NAME_LENGTH:
            msg = (
                f"Invalid tag {tag!r}: tags are non-empty strings of at most "
                f"{MAX_NAME_LENGTH} characters, without control characters."
            )
            raise ValidationError(msg)
        check_visible_text(tag, "tag")
        if tag not in result:
            result.append(tag)
    return result


def edited_tags(tags: list[str], add: Iterable[str], remove: Iterable[str]) -> list[str]:
    """``tags`` without ``remove``, then ``add`` appended in order, each tag once."""
    removed = set(remove)
    result = [t for t in tags if t not in removed]
    result += [t for t in dict.fromkeys(add) if t not in result]
    return result


def normalises_names(*params: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorate an SDK entry point: the named arguments (names, selectors, tag lists) are
    passed through ``normalise_name`` before the call, however they are passed."""

    def decorate(func: Callable[P, R]) -> Callable[P, R]:
        order = list(inspect.signature(func).parameters)
        positions = {param: order.index(param) for param in params}

        @functools.wraps(func)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            values = list(args)
            for param, index in positions.items():
                if index < len(values):
                    values[index] = normalise_names(values[index])
                elif param in kwargs:
                    kwargs[param] = normalise_names(kwargs[param])
            return func(*values, **kwargs)  # type: ignore[arg-type]

        return wrapper

    return decorate
