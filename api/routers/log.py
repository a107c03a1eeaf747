"""``/log``: the stored events themselves (admin), for a replay built on another machine.

``modelplane replay --into PATH`` against a server folds these pages locally with the same
code a local replay runs; the bodies are sent as stored (base64), so the file it builds is
the one a replay on the server would have built.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from .. import schemas
from ..auth import Backend
from ..errors import RESPONSES
from ..moments import position_or_time
from ..responses import JSON

router = APIRouter(tags=["events"], responses=RESPONSES)

#: the most events one page holds (a transaction's remaining events are added to it)
MAX_PAGE = 10_000


def _until(
    until: Annotated[
        str | None,
        Query(
            max_length=64,
            description="A log position (digits) or an ISO 8601 time; none: the head. The "
            "answer's `position` is it resolved: ask the next pages with `until=position`.",
        ),
    ] = None,
) -> datetime | int | None:
    return position_or_time(until, "until")


@router.get("/log", response_model=schemas.LogPage)
def read_log(
    backend: Backend,
    until: Annotated[datetime | int | None, Depends(_until)],
    after: Annotated[int, Query(ge=0, le=2**63 - 1)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 5_000,
) -> JSON:
    """The stored events after ``after`` up to ``until`` (admin), about ``limit`` of them: a
    page never ends inside a transaction."""
    page = backend.read_log(after, until, limit)
    events = [
        {
            "position": row.position,
            "originator_id": row.originator_id,
            "originator_version": row.originator_version,
            "topic": row.topic,
            "state": base64.b64encode(row.state).decode("ascii"),
        }
        for row in page.events
    ]
    return JSON({"position": page.position, "remaining": page.remaining, "events": events})
