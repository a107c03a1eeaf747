"""What the SDK returns: plain objects named as in ZenML, built from read-table rows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from uuid import UUID

from .enums import ModelStages

if TYPE_CHECKING:
    from .client import Client

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing, iterable like a list, with the totals a pager needs."""

    items: list[T]
    total: int
    index: int
    size: int

    @property
    def total_pages(self) -> int:
        return max(1, -(-self.total // self.size)) if self.size else 1

    def __iter__(self) -> Iterator[T]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> T:
        return self.items[i]


@dataclass(frozen=True)
class MetadataEntry:
    """One logged value of a metadata key: what, when, by whom, where in the log."""

    value: Any
    timestamp: datetime
    actor: str
    position: int


@dataclass(frozen=True)
class MetadataValue:
    """The current value of a metadata key (``.value``) and every value it had (``.history``)."""

    key: str
    history: list[MetadataEntry]

    @property
    def value(self) -> Any:
        return self.history[-1].value

    def __getitem__(self, item: Any) -> Any:
        return self.value[item]

    def __repr__(self) -> str:
        return f"MetadataValue({self.key!r}, value={self.value!r}, entries={len(self.history)})"


@dataclass
class ModelResponse:
    id: UUID
    name: str
    license: str | None
    description: str | None
    audience: str | None
    use_cases: str | None
    limitations: str | None
    trade_offs: str | None
    ethics: str | None
    tags: list[str]
    created: datetime
    updated: datetime
    user: str
    latest_version_name: str | None = None
    deleted: bool = False


@dataclass
class ModelVersionResponse:
    id: UUID
    name: str
    number: int
    stage: ModelStages
    description: str | None
    tags: list[str]
    created: datetime
    updated: datetime
    user: str
    model_id: UUID
    model_name: str
    _client: Client | None = field(default=None, repr=False, compare=False)
    _run_metadata: dict[str, MetadataValue] | None = field(default=None, repr=False, compare=False)

    @property
    def version(self) -> str:
        """The version's name (ZenML calls it both)."""
        return self.name

    @property
    def model(self) -> ModelResponse:
        assert self._client is not None
        return self._client.get_model(self.model_id)

    @property
    def run_metadata(self) -> dict[str, MetadataValue]:
        """Metadata logged on this version: ``run_metadata[key].value`` is the latest value."""
        if self._run_metadata is None:
            assert self._client is not None
            self._run_metadata = self._client._metadata_of(self.id)
        return self._run_metadata

    def set_stage(
        self, stage: ModelStages | str, force: bool = False, reason: str | None = None
    ) -> ModelVersionResponse:
        assert self._client is not None
        return self._client.update_model_version(
            self.model_id, self.id, stage=stage, force=force, reason=reason
        )


@dataclass(frozen=True)
class StageChange:
    """One entry of a model's promotion history."""

    position: int
    timestamp: datetime
    model_id: UUID
    version_id: UUID
    version: str
    stage: ModelStages
    previous_stage: ModelStages
    displaced_version: str | None
    actor: str
    reason: str | None


@dataclass(frozen=True)
class LoggedEvent:
    """One event of the log, as stored."""

    position: int
    type: str
    timestamp: datetime
    actor: str | None
    originator_id: UUID
    originator_version: int
    model_id: UUID | None
    payload: dict[str, Any]


@dataclass(frozen=True)
class ReplayResult:
    events: int
    position: int
    seconds: float
    target: str

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds else float("inf")
