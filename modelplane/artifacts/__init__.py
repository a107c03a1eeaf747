"""Artifacts: the values pipeline steps produce, stored by content under ``MODELPLANE_HOME``.

``content_store.ArtifactStore`` writes and reads them; ``materializers`` turns each kind of
value into files and back, and ``register_materializer`` adds your own. Importing this package
loads no optional library (numpy, pandas, pyarrow, pydantic, scikit-learn): those are imported
only when a value of theirs is stored or loaded. The names below load on first use, so that
``@step`` (which imports ``artifact_config``) does not load the store's modules.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelplane.artifacts.content_store import ArtifactStore, StoredArtifact
    from modelplane.artifacts.materializers import (
        ArtifactWarning,
        Materializer,
        MaterializerError,
        register_materializer,
    )

_EXPORTS = {
    "ArtifactStore": "modelplane.artifacts.content_store",
    "StoredArtifact": "modelplane.artifacts.content_store",
    "ArtifactWarning": "modelplane.artifacts.materializers",
    "Materializer": "modelplane.artifacts.materializers",
    "MaterializerError": "modelplane.artifacts.materializers",
    "register_materializer": "modelplane.artifacts.materializers",
}

__all__ = [
    "ArtifactStore",
    "ArtifactWarning",
    "Materializer",
    "MaterializerError",
    "StoredArtifact",
    "register_materializer",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        msg = f"module 'modelplane.artifacts' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
