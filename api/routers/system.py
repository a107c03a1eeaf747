"""``/health`` (no token: for load balancers) and ``/version``."""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

from fastapi import APIRouter, Depends

from .. import schemas
from ..auth import Caller, caller
from ..errors import RESPONSES
from ..responses import JSON
from ..state import ServerState, server_state

router = APIRouter(tags=["system"])


@router.get("/health", response_model=schemas.Health, responses={503: {"model": schemas.Health}})
def health(state: Annotated[ServerState, Depends(server_state)]) -> JSON:
    """``ok`` when the store answers a query, else 503."""
    from sqlalchemy import text

    try:
        with state.store.read() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        return JSON({"status": "unavailable"}, status_code=503)
    return JSON({"status": "ok"})


@cache
def _installed_version() -> str:
    """Read once: the package metadata lookup scans sys.path (~0.5 ms a call)."""
    try:
        return version("modelplane")
    except PackageNotFoundError:
        return "unknown"


@router.get("/version", response_model=schemas.Version, responses=RESPONSES)
async def server_version(who: Annotated[Caller, Depends(caller)]) -> JSON:
    del who
    return JSON({"version": _installed_version(), "api": "v1"})


@router.get("/whoami", response_model=schemas.Caller, responses=RESPONSES)
async def whoami(who: Annotated[Caller, Depends(caller)]) -> JSON:
    """The calling token's name (the actor of what it appends) and role."""
    return JSON({"name": who.name, "role": who.role})
