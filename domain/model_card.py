"""The descriptive fields of a model (its "model card"), kept free of heavy imports."""

from __future__ import annotations

#: Fields of a model that ``create_model`` sets and ``update_model`` may change, besides tags.
DESCRIPTIVE_FIELDS: tuple[str, ...] = (
    "license",
    "description",
    "audience",
    "use_cases",
    "limitations",
    "trade_offs",
    "ethics",
)
