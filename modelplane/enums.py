"""Enumerations users pass to the SDK, named as in ZenML."""

from __future__ import annotations

from enum import StrEnum


class ModelStages(StrEnum):
    """Stages of a model version; ``LATEST`` selects the highest number and is never stored."""

    NONE = "none"
    STAGING = "staging"
    PRODUCTION = "production"
    ARCHIVED = "archived"
    LATEST = "latest"


class ArtifactType(StrEnum):
    """How an artifact version relates to a model version when linked."""

    DATA = "data"
    MODEL = "model"
    DEPLOYMENT = "deployment"
    SERVICE = "deployment"  # ZenML's name for what a deployment produces
