"""JSON bodies on the wire, both ways, with integers exact.

The registry keeps integers of any size (a metadata value, a run parameter); orjson writes
and reads only 64 bits. Both ends use these two functions: orjson's speed for the common body,
exact digits for the rare one that needs them.
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

#: the integers orjson writes itself
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1
#: a run of 20 digits: an integer orjson may read as a float (past 2**64 - 1)
_LONG_DIGITS = re.compile(rb"\d{20}")


def dumps(content: Any) -> bytes:
    """``content`` as JSON; integers past 64 bits, which orjson refuses, as their digits."""
    try:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return orjson.dumps(_big_ints_as_digits(content), option=orjson.OPT_NON_STR_KEYS)


def loads(content: bytes) -> Any:
    """The JSON in ``content``, integers exact: a body that may hold a long integer is read
    by the standard library (a long run of digits inside a string only costs the slower
    parse). Raises ValueError for what is not JSON."""
    if _LONG_DIGITS.search(content):
        return json.loads(content)
    return orjson.loads(content)


def _big_ints_as_digits(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        if _INT_MIN <= value <= _INT_MAX:
            return value
        return orjson.Fragment(str(int(value)).encode())
    if isinstance(value, dict):
        return {key: _big_ints_as_digits(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_big_ints_as_digits(item) for item in value]
    return value
