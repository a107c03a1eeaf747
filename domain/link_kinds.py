"""How an artifact version belongs to a model version: the one home of the link kinds.

A module of its own, importing nothing heavy, so that the SDK's ``ArtifactType`` and the CLI
can name the kinds without loading the aggregates (and the eventsourcing library with them).
"""

from __future__ import annotations

from .errors import ValidationError

DATA = "data"
MODEL = "model"
#: What ZenML calls a "service" artifact; modelplane records it as a deployment link.
DEPLOYMENT = "deployment"
LINK_KINDS: tuple[str, ...] = (DATA, MODEL, DEPLOYMENT)


def check_link_kind(kind: object) -> None:
    """Refuse a link kind that is not one of ``LINK_KINDS``."""
    if kind not in LINK_KINDS:
        msg = f"'{kind}' is not a link kind; use one of: {', '.join(LINK_KINDS)}."
        raise ValidationError(msg)
