"""The response class every route answers with: JSON encoded by orjson."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from modelplane.backend.jsonbody import dumps

__all__ = ["JSON", "dumps"]


class JSON(Response):
    """orjson-encoded JSON; UUIDs, datetimes and dataclasses encode natively."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)
