"""What one server process holds for its lifetime: its settings, store and artifact store."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from modelplane.artifacts.content_store import ArtifactStore
from modelplane.store_handle import Store

from .settings import Settings


@dataclass(frozen=True, slots=True)
class ServerState:
    settings: Settings
    store: Store
    artifacts: ArtifactStore


async def server_state(request: Request) -> ServerState:
    state: ServerState = request.app.state.modelplane
    return state
