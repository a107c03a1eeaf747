"""The SDK's entry points import nothing heavy: the store's modules load when a store is used.

``from modelplane.client import Client`` is what every script and CLI command pays before it
does anything; SQLAlchemy alone costs about 200 ms, the eventsourcing library and the read
side more. Each import runs in a fresh interpreter, since this one has loaded everything.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

#: Modules that only a store (or a value of theirs) needs.
HEAVY = (
    "sqlalchemy",
    "eventsourcing",
    "psycopg",
    "modelplane.projections",
    "modelplane.replay",
    "modelplane.pipelines.execution",
    "modelplane.artifacts.content_store",
    "numpy",
    "pandas",
)

ENTRY_POINTS = [
    "from modelplane.client import Client",
    "import modelplane",
    "from modelplane import Model, pipeline, step, log_metadata, get_step_context",
    "from modelplane.enums import ModelStages, ArtifactType",
    "from modelplane.exceptions import NotFoundError, ValidationError, StageOccupiedError",
    "from modelplane.artifacts.utils import save_artifact, load_artifact",
    "from modelplane.artifacts.artifact_config import ArtifactConfig",
]


def _loaded_after(code: str, then: str = "") -> list[str]:
    """The heavy modules a fresh interpreter has loaded after running ``code`` and ``then``."""
    probe = (
        f"{code}\n{then}\nimport json, sys\n"
        f"print(json.dumps(sorted(m for m in sys.modules"
        f" if any(m == h or m.startswith(h + '.') for h in {HEAVY!r}))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    loaded: list[str] = json.loads(done.stdout)
    return loaded


@pytest.mark.parametrize("code", ENTRY_POINTS)
def test_entry_point_imports_nothing_heavy(code: str) -> None:
    assert _loaded_after(code) == []


def test_building_a_pipeline_imports_nothing_heavy() -> None:
    """Decorating steps and naming a model version read nothing, so load nothing."""
    then = (
        "@step\ndef train() -> int:\n    return 1\n"
        "@pipeline(model=Model(name='m', version=ModelStages.PRODUCTION))\n"
        "def flow() -> None:\n    train()\n"
    )
    code = "from modelplane import Model, pipeline, step\nfrom modelplane.enums import ModelStages"
    assert _loaded_after(code, then) == []


def test_the_lazy_names_are_the_real_ones() -> None:
    """What loads on first use is the class the defining module has, so ``except`` matches."""
    import modelplane
    import modelplane.artifacts
    import modelplane.exceptions
    from modelplane.artifacts.content_store import ArtifactStore
    from modelplane.metadata_logging import log_metadata
    from modelplane.projections.queries.ids import AmbiguousPrefixError

    assert modelplane.exceptions.AmbiguousPrefixError is AmbiguousPrefixError
    assert modelplane.artifacts.ArtifactStore is ArtifactStore
    assert modelplane.log_metadata is log_metadata
    with pytest.raises(AttributeError):
        _ = modelplane.exceptions.NoSuchError  # type: ignore[attr-defined]
