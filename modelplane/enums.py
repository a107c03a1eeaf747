"""Enumerations users pass to the SDK, named as in ZenML.

The stage names come from ``modelplane.domain.stages``, the link kinds from
``modelplane.domain.link_kinds``; both import nothing heavy, which
``from modelplane.enums import ModelStages`` must not pay for.
"""

from __future__ import annotations

from enum import StrEnum

from modelplane.domain import link_kinds, stages


class ModelStages(StrEnum):
    """Stages of a model version; ``LATEST`` selects the highest number and is never stored."""

    NONE = stages.NONE
    STAGING = stages.STAGING
    PRODUCTION = stages.PRODUCTION
    ARCHIVED = stages.ARCHIVED
    LATEST = stages.LATEST


class ArtifactType(StrEnum):
    """How an artifact version relates to a model version when linked (its link kind)."""

    DATA = link_kinds.DATA
    MODEL = link_kinds.MODEL
    DEPLOYMENT = link_kinds.DEPLOYMENT
    SERVICE = link_kinds.DEPLOYMENT  # ZenML's name for what a deployment produces: an alias
