"""The ``tokens`` projection: every API token issued, and its revocation.

One row per token id, never deleted: a revocation stamps the row, so that the listing shows
who revoked which token and when, and authentication refuses it by the same primary-key read
that finds it.
"""

from __future__ import annotations

from typing import ClassVar

from eventsourcing.dispatch import singledispatchmethod
from sqlalchemy import Table, bindparam, insert, update

from modelplane.domain.tokens import ApiToken

from .folding import Batch, Projection
from .tables import api_tokens

_insert_token = insert(api_tokens)
_revoke_token = (
    update(api_tokens)
    .where(api_tokens.c.token_id == bindparam("_token_id"))
    .values(revoked=bindparam("_at"), revoked_by=bindparam("_by"))
)


class Tokens(Projection):
    name: ClassVar[str] = "tokens"
    tables: ClassVar[tuple[Table, ...]] = (api_tokens,)

    @singledispatchmethod
    def process_event(self, event: object, position: int, batch: Batch) -> None:
        """Other events leave this table unchanged."""

    @process_event.register
    def _(self, event: ApiToken.Issued, position: int, batch: Batch) -> None:
        batch.add(
            _insert_token,
            {
                "token_id": event.token_id,
                "name": event.name,
                "role": event.role,
                "digest": event.digest,
                "created": event.timestamp,
                "created_by": event.actor,
                "revoked": None,
                "revoked_by": None,
                "position": position,
            },
        )

    @process_event.register
    def _(self, event: ApiToken.Revoked, position: int, batch: Batch) -> None:
        # an update runs after every insert of its batch: the token's row is there
        batch.add(
            _revoke_token, {"_token_id": event.token_id, "_at": event.timestamp, "_by": event.actor}
        )
