"""What an MLflow filter means, evaluated in Python over one entity's plain values.

The server runs filters in SQL (``projections/queries/searches.py``); this is the
specification they are checked against (``test_filters.py`` states it case by case,
``test_search_sql.py`` compares the SQL to it on both stores).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from modelplane.api.mlflow.filters import Clause

_COMPARE = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def like_pattern(pattern: str) -> re.Pattern[str]:
    """SQL ``LIKE`` as a regular expression: ``%`` any run, ``_`` one character."""
    parts = [".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern]
    return re.compile("".join(parts), re.DOTALL)


def _lowered(text: str) -> str:
    return "".join(c.lower()[:1] for c in text)


def holds(clause: Clause, found: str | int | None) -> bool:
    """Whether a value (None: the entity has no such tag or attribute) satisfies a clause."""
    if found is None:
        return clause.matches_missing
    if clause.comparator in ("LIKE", "ILIKE"):
        if not isinstance(found, str):
            return False
        text, pattern = found, str(clause.value)
        if clause.comparator == "ILIKE":  # each character lowered on its own, as PostgreSQL
            text, pattern = _lowered(text), _lowered(pattern)
        return like_pattern(pattern).fullmatch(text) is not None
    if clause.comparator == "IN":
        return found in clause.value  # type: ignore[operator]
    if clause.comparator == "NOT IN":
        return found not in clause.value  # type: ignore[operator]
    if type(found) is not type(clause.value):
        return False
    return bool(_COMPARE[clause.comparator](found, clause.value))


def matches(
    clauses: tuple[Clause, ...],
    attributes: Mapping[str, str | int | None],
    tags: Mapping[str, str],
) -> bool:
    """Whether an entity with these attributes and key-value tags satisfies every clause."""
    for clause in clauses:
        found = attributes.get(clause.key) if clause.kind == "attribute" else tags.get(clause.key)
        if not holds(clause, found):
            return False
    return True
