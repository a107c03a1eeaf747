"""The ``registry`` fixture: a fresh in-memory registry per test (``tests.unit.popo``)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from modelplane.domain.registry import Registry
from tests.unit.popo import in_memory_registry


@pytest.fixture
def registry() -> Iterator[Registry]:
    app = in_memory_registry()
    yield app
    app.close()
