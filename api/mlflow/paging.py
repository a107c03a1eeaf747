"""Opaque page tokens for MLflow's searches: where the last page ended, not how far in.

MLflow's own token is an offset (base64 of ``{"offset": N}``), so a model deleted or created
between two pages shifts every later page: one row is skipped or shown twice. Ours holds the
sort key of the last row a page showed (``ordering.sort_key`` is total over live entities),
so the next page starts after that row whatever was written in between. A token also names
its search (registered models or model versions) and a digest of the filter and order it was
made for, and is refused for another one: paging with a new filter starts over, as it must.

The token is URL-safe base64 of compact JSON; clients treat it as opaque (MLflow's own
client only hands back what it was given).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Sequence
from typing import Any

import orjson

from modelplane.domain.errors import ValidationError

#: the longest token accepted (a page's last key: a name of at most 255 characters, numbers)
MAX_TOKEN_LENGTH = 4096


def search_digest(scope: str, filter_text: str | None, order: Sequence[object]) -> str:
    """What a token is bound to: the search and the filter and order it pages through."""
    material = orjson.dumps([scope, filter_text or "", [str(key) for key in order]])
    return hashlib.sha256(material).hexdigest()[:16]


def encode(scope: str, digest: str, last: Sequence[Any]) -> str:
    body = orjson.dumps({"s": scope, "d": digest, "k": list(last)})
    return base64.urlsafe_b64encode(body).decode("ascii").rstrip("=")


def decode(token: str, scope: str, digest: str, types: Sequence[type]) -> tuple[Any, ...]:
    """The last key of the page that handed out ``token``, each value of the type expected;
    ``ValidationError`` for a token that is malformed or was made for another search."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise _invalid(token)
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        body = orjson.loads(raw)
    except (ValueError, binascii.Error, orjson.JSONDecodeError):
        raise _invalid(token) from None
    if not isinstance(body, dict) or set(body) != {"s", "d", "k"}:
        raise _invalid(token)
    if body["s"] != scope or body["d"] != digest:
        msg = (
            "The page_token was handed out by another search (its filter or order_by differ): "
            "start again without a page_token."
        )
        raise ValidationError(msg)
    last = body["k"]
    if not isinstance(last, list) or len(last) != len(types):
        raise _invalid(token)
    for value, kind in zip(last, types, strict=True):
        if type(value) is not kind:  # bool is no int here, nor an int a name
            raise _invalid(token)
    return tuple(last)


def _invalid(token: str) -> ValidationError:
    shown = token if len(token) <= 60 else token[:60] + "..."
    return ValidationError(f"Invalid page_token '{shown}': pass a next_page_token as given.")
