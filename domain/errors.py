"""Errors the domain raises for refused commands.

Each is a user error: the command appended nothing. The SDK re-exports them from
``modelplane.exceptions``; several also subclass the builtin that ZenML raises in the same
situation (``KeyError`` for "not found", ``ValueError`` for bad input, ``RuntimeError`` for an
occupied stage) so that code written against ZenML keeps catching them.
"""

from __future__ import annotations


class RegistryError(Exception):
    """Raised when the registry refuses a command; the message says why."""

    def __str__(self) -> str:
        # KeyError would otherwise quote the message: keep one plain line for the CLI.
        return str(self.args[0]) if self.args else self.__class__.__name__


class ValidationError(RegistryError, ValueError):
    """Raised when a name, stage or other argument is malformed."""


class EntityExistsError(RegistryError):
    """Raised when a model or version name is already taken."""


class NotFoundError(RegistryError, KeyError):
    """Raised when a model, version or stage holder does not exist."""


class EntityDeletedError(NotFoundError):
    """Raised when a command targets a model or version that was deleted."""


class StageOccupiedError(RegistryError, RuntimeError):
    """Raised when promoting into a stage another version holds, without force."""

    def __init__(self, message: str, *, stage: str, holder: str) -> None:
        super().__init__(message)
        self.stage = stage
        self.holder = holder


class PreconditionFailedError(RegistryError):
    """Raised when a promotion names the version it expects to hold the stage
    (``expected_holder``) and another holds it, or none does: the caller decided on a state
    that is gone, so nothing is appended. ``holder`` is the actual holder's name (None for
    an empty stage); ``expected`` is what the caller said."""

    def __init__(
        self, message: str, *, stage: str = "", holder: str | None = None, expected: str = ""
    ) -> None:
        super().__init__(message)
        self.stage = stage
        self.holder = holder
        self.expected = expected


class PermissionDeniedError(RegistryError):
    """Raised when the caller's role does not allow the command (a ``read`` token writing,
    a ``write`` token moving a version into or out of a protected stage)."""


class ConcurrencyError(RegistryError):
    """Raised when a command lost the optimistic-concurrency race too many times."""


class ArtifactCorruptedError(RegistryError):
    """Raised when a stored artifact's files are missing, altered or unreadable.

    The log still records the version; its bytes no longer match the recorded content hash,
    so no value is handed out. Saving the same content again repairs the stored copy.
    """


class RunEndedError(ValidationError):
    """Raised when recording on a run that already ended, e.g. in a pipeline whose run was
    ended from outside (``modelplane run mark-failed``).

    The pipeline stops at its next record: what the steps did so far stays in the log.
    """

    def __init__(self, message: str, *, status: str, error: str | None) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
