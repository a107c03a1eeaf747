"""Artifacts: the values pipeline steps produce, stored by content under ``MODELPLANE_HOME``.

``store.ArtifactStore`` writes and reads them; ``materializers`` turns each kind of value into
files and back, and ``register_materializer`` adds your own. Importing this package loads no
optional library (numpy, pandas, pyarrow, pydantic, scikit-learn): those are imported only when
a value of theirs is stored or loaded.
"""

from modelplane.artifacts.materializers import (
    ArtifactWarning,
    Materializer,
    MaterializerError,
    register_materializer,
)
from modelplane.artifacts.store import ArtifactStore, StoredArtifact

__all__ = [
    "ArtifactStore",
    "ArtifactWarning",
    "Materializer",
    "MaterializerError",
    "StoredArtifact",
    "register_materializer",
]
