"""The typed errors modelplane raises for refused commands and bad input.

Each means nothing was appended. They subclass the builtins ZenML raises in the same
situations (``KeyError`` for not found, ``ValueError`` for bad input, ``RuntimeError`` for an
occupied stage), so existing ``except`` clauses keep working.

``AmbiguousPrefixError`` is defined by the read side, whose module loads SQLAlchemy; it is
imported from there the first time it is asked for, so importing this module stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from modelplane.domain.errors import (
    ArtifactCorruptedError,
    ConcurrencyError,
    EntityDeletedError,
    EntityExistsError,
    NotFoundError,
    PermissionDeniedError,
    PreconditionFailedError,
    RegistryError,
    RunEndedError,
    StageOccupiedError,
    ValidationError,
)

from .artifacts.materializers import ArtifactWarning, MaterializerError
from .config import ConfigError
from .options import ModelplaneIgnoredOptionWarning, UnexpectedOptionError

if TYPE_CHECKING:
    from modelplane.projections.queries.ids import AmbiguousPrefixError

ModelplaneError = RegistryError


__all__ = [
    "AmbiguousPrefixError",
    "ArtifactCorruptedError",
    "ArtifactWarning",
    "ConcurrencyError",
    "ConfigError",
    "EntityDeletedError",
    "EntityExistsError",
    "MaterializerError",
    "ModelplaneError",
    "ModelplaneIgnoredOptionWarning",
    "NotFoundError",
    "PermissionDeniedError",
    "PreconditionFailedError",
    "RegistryError",
    "RunEndedError",
    "StageOccupiedError",
    "UnexpectedOptionError",
    "ValidationError",
]


def __getattr__(name: str) -> Any:
    if name == "AmbiguousPrefixError":
        from modelplane.projections.queries.ids import AmbiguousPrefixError

        globals()[name] = AmbiguousPrefixError
        return AmbiguousPrefixError
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
