"""Answers in the wire form the HTTP backend decodes (``modelplane.backend.wire``)."""

from __future__ import annotations

from typing import Any

from modelplane.backend.wire import encode
from modelplane.responses import Page

from .responses import JSON


def page(found: Page[Any]) -> JSON:
    """ZenML's page shape: ``{"index", "max_size", "total_pages", "total", "items"}``."""
    return JSON(
        {
            "index": found.index,
            "max_size": found.size,
            "total_pages": found.total_pages,
            "total": found.total,
            "items": encode(found.items),
            "next_cursor": found.next_cursor,
        }
    )


def one(obj: Any, status_code: int = 200) -> JSON:
    return JSON(encode(obj), status_code=status_code)
