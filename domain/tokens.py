"""The ``ApiToken`` aggregate: the API token issued under one name, and its revocation.

A server authenticates each request by a token's id (the public part of the token) and the
digest of its secret, read from a read table folded from these events, so that a revocation
holds from the next request on every worker. The log keeps the digest (hex sha256), never
the secret: whoever reads the log cannot make a request with what they read.

There is one aggregate per name (its id derived from the name, like ``ModelName``), so two
concurrent issues of one name collide instead of both succeeding. A name holds one active
token at a time; once revoked, it may be issued again, with a new token id.
"""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, CanMutateAggregate, event
from eventsourcing.utils import get_topic

from .errors import EntityExistsError, NotFoundError, ValidationError
from .names import check_name

__all__ = ["ADMIN", "READ", "ROLES", "WRITE", "ApiToken", "api_token_id", "check_role"]

#: Roles, lowest first; each includes the ones before it.
READ, WRITE, ADMIN = "read", "write", "admin"
ROLES: tuple[str, ...] = (READ, WRITE, ADMIN)

_HEX = frozenset("0123456789abcdef")
_DIGEST_LENGTH = 64


def api_token_id(name: str) -> UUID:
    """Name-derived id, so two issues of one name collide instead of forking."""
    return uuid5(NAMESPACE_URL, f"/modelplane/api-tokens/{name}")


def check_role(role: object) -> str:
    """Refuse a role that is not one of ``ROLES``."""
    if not isinstance(role, str) or role not in ROLES:
        msg = f"'{role}' is not a token role; use one of: {', '.join(ROLES)}."
        raise ValidationError(msg)
    return role


def _check_digest(digest: object) -> str:
    """A hex sha256 (64 lowercase hex digits): what a secret is stored as, and nothing a
    secret itself (``secrets.token_urlsafe``) looks like, so a secret passed by mistake is
    refused before it reaches the log."""
    if not isinstance(digest, str) or len(digest) != _DIGEST_LENGTH or not set(digest) <= _HEX:
        msg = "A token digest is the hex sha256 of its secret (64 lowercase hex digits)."
        raise ValidationError(msg)
    return digest


def _check_token_id(token_id: object) -> str:
    try:
        return str(token_id if isinstance(token_id, UUID) else UUID(str(token_id)))
    except ValueError:
        raise ValidationError(f"A token id is a UUID, not {token_id!r}.") from None


class ApiToken(Aggregate, created_event_name="Issued"):
    """The token issued under one name: its id, role and digest, and whether it is revoked."""

    TOPIC: ClassVar[str] = "modelplane:ApiToken"

    class Created(Aggregate.Created):
        """Never stored: the library requires a topic on its base "created" class."""

        TOPIC: ClassVar[str] = "modelplane:ApiToken.Created"

    class Issued(Created):
        """A token under ``name``: ``token_id`` is its public lookup key, ``digest`` the hex
        sha256 of its secret.

        The first issue of a name creates the aggregate; an issue after a revocation is
        applied to it as any later event is (``mutate``). So one event type says "issued",
        whichever it was, and the read side folds both the same way.
        """

        TOPIC: ClassVar[str] = "modelplane:ApiToken.Issued"
        name: str
        token_id: str
        role: str
        digest: str
        actor: str

        def mutate(self, aggregate: Any) -> Any:
            if aggregate is None:
                return super().mutate(None)
            # id and version checked, version and modified_on moved, then ``apply``
            return CanMutateAggregate.mutate(self, aggregate)

        def apply(self, aggregate: Any) -> None:
            """Make this token the name's current one (after ``__init__`` on a first issue,
            which set the same)."""
            aggregate.token_id = self.token_id
            aggregate.role = self.role
            aggregate.digest = self.digest
            aggregate.revoked = False
            if self.token_id not in aggregate.token_ids:
                aggregate.token_ids.append(self.token_id)

    class Revoked(Aggregate.Event):
        """The name's current token stops working. Carries the name and token id the read
        side needs (folds never read the tables they write)."""

        TOPIC: ClassVar[str] = "modelplane:ApiToken.Revoked"
        name: str
        token_id: str
        actor: str
        reason: str | None

    def __init__(self, name: str, token_id: str, role: str, digest: str, actor: str) -> None:
        self.name = name
        self.token_id = token_id
        self.role = role
        self.digest = digest
        self.revoked = False
        #: every token id this name has had: a re-issue must take a new one (the read table
        #: is keyed by token id)
        self.token_ids: list[str] = [token_id]

    @staticmethod
    def create_id(name: str, **_: Any) -> UUID:
        return api_token_id(name)

    # ----------------------------------------------------------------- commands

    @classmethod
    def issue(
        cls,
        current: ApiToken | None,
        *,
        name: str,
        token_id: UUID | str,
        role: str,
        digest: str,
        actor: str,
    ) -> ApiToken:
        """Issue token ``token_id`` under ``name``: a new aggregate for a name never issued,
        else ``current`` (the name's aggregate) takes it, unless its token is still active.
        Returns the aggregate to save."""
        name = check_name(name, "token")
        role = check_role(role)
        digest = _check_digest(digest)
        new_id = _check_token_id(token_id)
        if current is None:
            return cls(name=name, token_id=new_id, role=role, digest=digest, actor=actor)
        if current.id != api_token_id(name):
            raise ValueError(f"Issuing token '{name}' needs that name's aggregate.")
        if current.active:
            msg = f"A token named '{name}' exists (role {current.role}); revoke it first."
            raise EntityExistsError(msg)
        if new_id in current.token_ids:
            raise ValidationError(f"Token id {new_id} was used before; a new token needs a new id.")
        current.trigger_event(
            cls.Issued,
            originator_topic=get_topic(cls),
            name=name,
            token_id=new_id,
            role=role,
            digest=digest,
            actor=actor,
        )
        return current

    def revoke(self, *, actor: str, reason: str | None = None) -> None:
        """Stop the current token; refused when there is none (already revoked)."""
        if not self.active:
            raise NotFoundError(f"No active token named '{self.name}' exists: it was revoked.")
        self._revoke(name=self.name, token_id=self.token_id, actor=actor, reason=reason)

    # ------------------------------------------------------------------ queries

    @property
    def active(self) -> bool:
        return not self.revoked

    # ------------------------------------------------------------------- events

    @event(Revoked)
    def _revoke(self, name: str, token_id: str, actor: str, reason: str | None) -> None:
        self.revoked = True
