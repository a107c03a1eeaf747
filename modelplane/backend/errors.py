"""Errors of the service that the domain has no word for: who may call, and the wire itself."""

from __future__ import annotations

from modelplane.domain.errors import ConcurrencyError, RegistryError, ValidationError


class AuthenticationError(RegistryError):
    """No API token, a malformed one, or one that is unknown or revoked (HTTP 401)."""


class PayloadTooLargeError(ValidationError):
    """A request body over the server's limit (HTTP 413); the server read nothing past it."""


class ServerError(RegistryError):
    """The server failed, could not be reached, or answered something that is not modelplane's
    API; the message says which. Whether a command it was sent took effect is unknown."""


class IdempotencyKeyReusedError(ValidationError):
    """An ``Idempotency-Key`` this token already sent with a different request (HTTP 422):
    nothing was run; a new request needs a new key."""


class IdempotencyInProgressError(ConcurrencyError):
    """The first request with this ``Idempotency-Key`` is still running (HTTP 409): nothing
    was run; the same request again later gets its answer."""
