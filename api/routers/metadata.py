"""``/metadata/{target_id}``: what was logged on a model version, artifact version or run."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query

from .. import schemas
from ..auth import Backend
from ..encoding import one
from ..errors import RESPONSES
from ..responses import JSON

router = APIRouter(tags=["metadata"], responses=RESPONSES)


@router.get("/metadata/{target_id}", response_model=dict[str, schemas.MetadataValue])  # type: ignore[valid-type]
def metadata_of(
    backend: Backend,
    target_id: UUID,
    until: Annotated[int | None, Query(ge=0, le=2**63 - 1)] = None,
) -> JSON:
    """Each key's current value and every value it had (as of log position ``until``)."""
    return one(backend.metadata_of(target_id, until))
