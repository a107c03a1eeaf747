"""The typed errors modelplane raises for refused commands and bad input.

Each means nothing was appended. They subclass the builtins ZenML raises in the same
situations (``KeyError`` for not found, ``ValueError`` for bad input, ``RuntimeError`` for an
occupied stage), so existing ``except`` clauses keep working.
"""

from modelplane.domain.errors import (
    ArtifactCorruptedError,
    ConcurrencyError,
    EntityDeletedError,
    EntityExistsError,
    NotFoundError,
    RegistryError,
    RunEndedError,
    StageOccupiedError,
    ValidationError,
)
from modelplane.projections.queries import AmbiguousPrefixError

from .artifacts.materializers import ArtifactWarning, MaterializerError
from .config import ConfigError
from .options import ModelplaneIgnoredOptionWarning, UnexpectedOptionError

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
    "RegistryError",
    "RunEndedError",
    "StageOccupiedError",
    "UnexpectedOptionError",
    "ValidationError",
]
