"""API tokens as the read table has them: the server's authentication reads one row a request.

Never cached: a revocation committed by any process is seen by the next read on every
other, which is the point of reading the table each time.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import Connection, RowMapping, exists, select

from ..tables import api_tokens


def token_row(conn: Connection, token_id: UUID | str) -> RowMapping | None:
    """The token with this id (revoked or not), or None: one primary-key read.

    Text that is not a UUID finds nothing without reaching the database (where PostgreSQL
    would refuse a NUL in it as an error).
    """
    if not isinstance(token_id, UUID):
        try:
            token_id = UUID(token_id)
        except (TypeError, ValueError):
            return None
    query = select(api_tokens).where(api_tokens.c.token_id == str(token_id))
    return conn.execute(query).mappings().first()


def token_rows(conn: Connection) -> list[RowMapping]:
    """Every token ever issued, revoked ones too, newest first."""
    query = select(api_tokens).order_by(api_tokens.c.position.desc())
    return list(conn.execute(query).mappings())


def has_tokens(conn: Connection) -> bool:
    """Whether any token is active (a server with none has nobody who could call it)."""
    query = select(exists().where(api_tokens.c.revoked.is_(None)))
    return bool(conn.execute(query).scalar())
