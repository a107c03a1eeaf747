"""Names in paths, slashes included: ``GET /api/v1/models/a%2Fb`` is the model ``a/b``.

Starlette routes on the percent-decoded path, where ``a%2Fb`` has become two segments and
the route no longer matches. ``RawPathMiddleware`` routes API requests on the path as sent
instead, so each segment stays one parameter, and ``Segment`` decodes a parameter once it is
matched. Every route under ``/api/`` takes its path parameters through ``Segment``.
"""

from __future__ import annotations

from typing import Annotated
from urllib.parse import unquote

from fastapi import Depends, Path
from starlette.types import ASGIApp, Receive, Scope, Send

from modelplane.domain.errors import ValidationError
from modelplane.domain.names import is_valid_utf8, normalise_names

API_PREFIX = "/api/"


class RawPathMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(API_PREFIX):
            raw = scope.get("raw_path")
            if raw:
                scope = dict(scope)
                scope["path"] = raw.decode("latin-1").split("?", 1)[0]
        await self.app(scope, receive, send)


# The path dependencies below are ``async def`` though they never await: FastAPI runs a plain
# ``def`` dependency in its thread pool, one hand-off (~0.2 ms here) per dependency per request.
# Whatever touches the store stays ``def`` (the caller's token check, the route itself).


def _decoded(segment: str) -> str:
    """A path segment as the name it stands for (NFC, as the registry stores names).

    A segment holding NUL or bytes that are not UTF-8 names nothing the registry can hold
    (names refuse both), and PostgreSQL cannot even compare such text: refused here, as a
    bad value, before any lookup turns it into a driver error.
    """
    value: str = normalise_names(unquote(segment, errors="surrogateescape"))
    if "\x00" in value or not is_valid_utf8(value):
        shown = segment if len(segment) <= 80 else segment[:80] + "..."
        msg = f"The path segment {shown!r} holds NUL or bytes that are not UTF-8."
        raise ValidationError(msg)
    return value


async def _name_or_id(name_or_id: Annotated[str, Path(description="A name or an id.")]) -> str:
    return _decoded(name_or_id)


async def _name_id_or_prefix(
    name_id_or_prefix: Annotated[str, Path(description="A name, an id or an id prefix.")],
) -> str:
    return _decoded(name_id_or_prefix)


async def _selector(
    selector: Annotated[
        str, Path(description="A version name, number, id, or stage (`latest`: the newest).")
    ],
) -> str:
    return _decoded(selector)


async def _token_name(name: Annotated[str, Path(description="The token's name.")]) -> str:
    return _decoded(name)


async def _step(step: Annotated[str, Path(description="The step's name in its run.")]) -> str:
    return _decoded(step)


async def _alias(alias: Annotated[str, Path(description="An alias of the model.")]) -> str:
    return _decoded(alias)


async def _tag_key(key: Annotated[str, Path(description="A key-value tag's key.")]) -> str:
    return _decoded(key)


NameOrId = Annotated[str, Depends(_name_or_id)]
NameIdOrPrefix = Annotated[str, Depends(_name_id_or_prefix)]
Selector = Annotated[str, Depends(_selector)]
TokenName = Annotated[str, Depends(_token_name)]
StepName = Annotated[str, Depends(_step)]
AliasName = Annotated[str, Depends(_alias)]
TagKey = Annotated[str, Depends(_tag_key)]
