"""modelplane: an event-sourced model control plane.

``from modelplane import Model, log_metadata, step, pipeline, get_step_context``;
``from modelplane.client import Client``; ``from modelplane.enums import ModelStages``.
Names load on first use, so that ``import modelplane`` stays fast for the CLI and for
scripts that only read.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import Client
    from .enums import ModelStages
    from .metadata_logging import log_metadata
    from .model import Model
    from .pipelines import get_pipeline_context, get_step_context, pipeline, step

_EXPORTS = {
    "Client": "modelplane.client",
    "Model": "modelplane.model",
    "ModelStages": "modelplane.enums",
    "log_metadata": "modelplane.metadata_logging",
    "step": "modelplane.pipelines",
    "pipeline": "modelplane.pipelines",
    "get_step_context": "modelplane.pipelines",
    "get_pipeline_context": "modelplane.pipelines",
}

__all__ = [
    "Client",
    "Model",
    "ModelStages",
    "get_pipeline_context",
    "get_step_context",
    "log_metadata",
    "pipeline",
    "step",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        msg = f"module 'modelplane' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
