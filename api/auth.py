"""Who is calling: the bearer token of each request, checked against the tokens read table.

Looked up on every request, never cached: a token revoked through any worker is refused by
every worker from its next request. The backend a route gets is bound to the caller, so every
event it appends records the token's name as its actor and every use case checks its role.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from modelplane.backend.errors import AuthenticationError
from modelplane.backend.local import LocalBackend
from modelplane.backend.tokens import authenticate

from .state import ServerState, server_state

bearer = HTTPBearer(
    auto_error=False,
    description="An API token (`modelplane token create`), sent as `Authorization: Bearer mp_...`.",
)


@dataclass(frozen=True, slots=True)
class Caller:
    name: str
    role: str


def caller(
    state: Annotated[ServerState, Depends(server_state)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
) -> Caller:
    if credentials is None:
        msg = "No API token: send the header 'Authorization: Bearer <token>'."
        raise AuthenticationError(msg)
    found = authenticate(state.store, credentials.credentials)
    if found is None:
        raise AuthenticationError("The API token is malformed, unknown or revoked.")
    name, role = found
    return Caller(name, role)


async def backend(
    state: Annotated[ServerState, Depends(server_state)],
    who: Annotated[Caller, Depends(caller)],
) -> LocalBackend:
    """The use cases, acting as the caller with the caller's role (``async``: no I/O here, so
    no thread-pool hand-off either)."""
    return LocalBackend(
        state.store,
        actor=who.name,
        role=who.role,
        protected_stages=state.settings.protected_stages,
    )


Backend = Annotated[LocalBackend, Depends(backend)]
