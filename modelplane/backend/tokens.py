"""The API token use cases: create, list, revoke, and authenticate a request's token.

A token reads ``mp_<token id, 32 hex digits>_<secret>``. The token id is the public part: the
server finds the token's row by it (one primary-key read, no cache, so a revocation holds
from the next request on every worker). The secret (``secrets.token_urlsafe(32)``: 256 random
bits) is shown once, to whoever created it; the log and the read table keep only its hex
sha256, which is enough to check a presented secret and useless for making a request. The
prefix makes a leaked token recognisable to secret scanners.

The local backend delegates its token commands here, and the server authenticates with
``authenticate``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from typing import TYPE_CHECKING
from uuid import UUID, uuid4

from modelplane.domain.names import check_name
from modelplane.projections.queries.tokens import token_row, token_rows
from modelplane.responses import TokenResponse

from .interface import CreatedToken

if TYPE_CHECKING:
    from modelplane.store_handle import Store

TOKEN_PREFIX = "mp_"
#: bytes of randomness in a secret (``secrets.token_urlsafe`` writes them as 43 characters)
SECRET_BYTES = 32
_SECRET_CHARS = 43
_TOKEN = re.compile(
    rf"{re.escape(TOKEN_PREFIX)}(?P<id>[0-9a-f]{{32}})_(?P<secret>[A-Za-z0-9_-]{{{_SECRET_CHARS}}})"
)
_TOKEN_LENGTH = len(TOKEN_PREFIX) + 32 + 1 + _SECRET_CHARS
#: compared against when no token has the presented id, so that an unknown id costs the
#: same digest and comparison as a known one
_DUMMY_DIGEST = hashlib.sha256(b"modelplane: no token has this id").hexdigest()


def create_token(store: Store, name: str, role: str, actor: str) -> CreatedToken:
    """Issue a token under ``name`` with ``role``; its secret is in the result, only there."""
    token_id = uuid4()
    secret = secrets.token_urlsafe(SECRET_BYTES)
    store.registry.issue_token(
        name, token_id=token_id, role=role, digest=_digest(secret), actor=actor
    )
    return CreatedToken(
        token=f"{TOKEN_PREFIX}{token_id.hex}_{secret}", name=check_name(name, "token"), role=role
    )


def list_tokens(store: Store) -> list[TokenResponse]:
    """Every token ever issued, revoked ones too, newest first (never a secret)."""
    with store.read() as conn:
        rows = token_rows(conn)
    return [
        TokenResponse(
            name=row["name"],
            role=row["role"],
            created=row["created"],
            created_by=row["created_by"],
            revoked=row["revoked"],
            revoked_by=row["revoked_by"],
        )
        for row in rows
    ]


def revoke_token(store: Store, name: str, actor: str) -> None:
    """Revoke the active token of ``name`` (``NotFoundError`` if it has none)."""
    store.registry.revoke_token(name, actor=actor)


def authenticate(store: Store, token: str) -> tuple[str, str] | None:
    """``(name, role)`` of the active token ``token`` is, else None (never an exception for
    what a client sends: malformed, unknown, revoked or wrong secret are all None).

    An id no token has is compared against a dummy digest, so that the time taken does not
    tell a caller which ids exist.
    """
    parsed = _parse(token)
    if parsed is None:
        return None
    token_id, secret = parsed
    with store.read() as conn:
        row = token_row(conn, token_id)
    expected = _DUMMY_DIGEST if row is None else str(row["digest"])
    matches = hmac.compare_digest(_digest(secret), expected)
    if row is None or not matches or row["revoked"] is not None:
        return None
    return str(row["name"]), str(row["role"])


def _parse(token: object) -> tuple[UUID, str] | None:
    """The token id and secret of a well-formed token, else None. The length is checked
    first, so a huge header costs nothing; the pattern admits ASCII only."""
    if not isinstance(token, str) or len(token) != _TOKEN_LENGTH:
        return None
    match = _TOKEN.fullmatch(token)
    if match is None:
        return None
    return UUID(hex=match["id"]), match["secret"]


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()
