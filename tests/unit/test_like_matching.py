"""SQLite's ``mp_ilike`` (``projections/engine.py``): LIKE's meaning without backtracking."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from modelplane.projections.engine import _ilike, like_matches


def _by_regex(value: str, pattern: str) -> bool:
    parts = [".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern]
    return re.fullmatch("".join(parts), value, re.DOTALL) is not None


@given(st.text("ab_%\\\n", max_size=10), st.text("ab_%\\\n", max_size=8))
def test_like_matches_as_the_regular_expression_does(value: str, pattern: str) -> None:
    assert like_matches(value, pattern) == _by_regex(value, pattern)


def test_many_wildcards_cost_no_more_than_one() -> None:
    value = "a" * 255  # the longest name; a backtracking matcher takes minutes here
    assert _ilike(value, "%" * 40 + "b") is False
    assert _ilike(value, "%a" * 40 + "%b") is False
    assert _ilike(value, "%a" * 40 + "%") is True


def test_case_folds_one_character_at_a_time_as_postgresql() -> None:
    assert _ilike("ÉCOLE", "é%") is True
    assert _ilike("Straße", "STRASSE") is False
    assert _ilike("\u017f", "s") is False  # PostgreSQL: the long s lowers to itself
    assert _ilike("İstanbul", "i%") is True
    assert _ilike(None, "%") is None
