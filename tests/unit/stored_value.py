"""What the artifact store answers after storing a value, for domain tests without a store.

A plain value satisfying ``modelplane.domain.artifact.StoredValue``: the domain records where
and how bytes were stored, never the bytes, so these tests need no files.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Stored:
    uri: str = "file:///tmp/x"
    content_hash: str = "0" * 64
    materializer: str = "json"
    data_type: str = "builtins.dict"
    artifact_type: str = "data"
    size_bytes: int = 2
    warnings: list[str] = field(default_factory=list)
