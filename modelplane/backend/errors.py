"""Errors of the service that the domain has no word for: who may call, and the wire itself."""

from __future__ import annotations

from modelplane.domain.errors import RegistryError, ValidationError


class AuthenticationError(RegistryError):
    """No API token, a malformed one, or one that is unknown or revoked (HTTP 401)."""


class PayloadTooLargeError(ValidationError):
    """A request body over the server's limit (HTTP 413); the server read nothing past it."""


class ServerError(RegistryError):
    """The server failed, could not be reached, or answered something that is not modelplane's
    API; the message says which. Whether a command it was sent took effect is unknown."""
