"""What one server process holds for its lifetime: its settings, store, artifact store and
the watcher of its log's head."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from modelplane.artifacts.content_store import ArtifactStore
from modelplane.head_watch import HeadWatcher
from modelplane.store_handle import Store

from .settings import Settings


@dataclass(frozen=True, slots=True)
class ServerState:
    settings: Settings
    store: Store
    artifacts: ArtifactStore
    #: the log's head, which the event streams wait on
    watcher: HeadWatcher


async def server_state(request: Request) -> ServerState:
    state: ServerState = request.app.state.modelplane
    return state
