"""The typed errors modelplane raises for refused commands and bad input.

Each means nothing was appended. They subclass the builtins ZenML raises in the same
situations (``KeyError`` for not found, ``ValueError`` for bad input, ``RuntimeError`` for an
occupied stage), so existing ``except`` clauses keep working.
"""

from domain.errors import (
    ConcurrencyError,
    EntityDeletedError,
    EntityExistsError,
    NotFoundError,
    RegistryError,
    StageOccupiedError,
    ValidationError,
)

from .artifacts.materializers import ArtifactWarning, MaterializerError

ModelplaneError = RegistryError


__all__ = [
    "ArtifactWarning",
    "ConcurrencyError",
    "EntityDeletedError",
    "EntityExistsError",
    "MaterializerError",
    "ModelplaneError",
    "NotFoundError",
    "RegistryError",
    "StageOccupiedError",
    "ValidationError",
]
