"""What the SDK returns: plain objects named as in ZenML, built from read-table rows.

Each object holds the backend that made it: its lazy parts (metadata, linked artifacts,
runs, the stored value) are read through that backend, locally or over HTTP alike.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, TypeVar
from uuid import UUID

from .enums import ArtifactType, ModelStages

if TYPE_CHECKING:
    from .backend.interface import Backend

T = TypeVar("T")


@dataclass(frozen=True, init=False)
class Page(Generic[T]):
    """One page of a listing, iterable like a list, with the totals a pager needs.

    ``next_cursor`` (None on the last page) reads the next page from where this one ended
    (``list_models(cursor=page.next_cursor)``): one index seek however deep the listing goes,
    and rows added or deleted in between neither repeat nor skip the rows after it, which
    page numbers (an offset) cannot promise.

    ``total`` is counted when first read where no counter keeps it (filtered listings), in a
    read of its own: a caller that only pages never pays for counting every match, and under
    concurrent writes the count may differ from the items by what was written in between.
    """

    items: list[T]
    total: int = field(compare=False)
    index: int
    size: int
    next_cursor: str | None = None

    def __init__(
        self,
        items: list[T],
        total: int | Callable[[], int],
        index: int,
        size: int,
        next_cursor: str | None = None,
    ) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "items", items)
        if callable(total):
            setattr_(self, "_count", total)
        else:
            setattr_(self, "total", total)
        setattr_(self, "index", index)
        setattr_(self, "size", size)
        setattr_(self, "next_cursor", next_cursor)

    if not TYPE_CHECKING:

        def __getattr__(self, name: str) -> Any:
            # only reached while ``total`` is still to be counted (it is then not set)
            if name != "total" or "_count" not in self.__dict__:
                raise AttributeError(name)
            total = int(self.__dict__["_count"]())
            object.__setattr__(self, "total", total)
            return total

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
    """One logged value of a metadata key: what, when, by whom, where in the log.

    ``run_id`` and ``step`` name the pipeline run and step that logged it (None outside one),
    so a metric's history says which run produced each value.
    """

    value: Any
    timestamp: datetime
    actor: str
    position: int
    run_id: UUID | None = None
    step: str | None = None


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
    #: alias -> the number of the version it names (MLflow's and W&B's names for versions)
    aliases: dict[str, int] = field(default_factory=dict)
    #: MLflow's tags, beside the ZenML-style ``tags``
    key_value_tags: dict[str, str] = field(default_factory=dict)


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
    #: the aliases that name this version (sorted)
    aliases: list[str] = field(default_factory=list)
    #: MLflow's tags, beside the ZenML-style ``tags``
    key_value_tags: dict[str, str] = field(default_factory=dict)
    #: where the version came from, as MLflow records it (a URI), fixed at creation
    source: str | None = None
    #: the run that made it, in another system (MLflow's run id; not a pipeline run here)
    run_id: str | None = None
    run_link: str | None = None
    _backend: Backend | None = field(default=None, repr=False, compare=False)
    _run_metadata: dict[str, MetadataValue] | None = field(default=None, repr=False, compare=False)
    #: set when read with ``at=``: metadata and links are then as they were at that position
    as_of: int | None = field(default=None, compare=False)

    @property
    def version(self) -> str:
        """The version's name (ZenML calls it both)."""
        return self.name

    @property
    def model(self) -> ModelResponse:
        assert self._backend is not None
        return self._backend.get_model(self.model_id)

    @property
    def run_metadata(self) -> dict[str, MetadataValue]:
        """Metadata logged on this version: ``run_metadata[key].value`` is the latest value."""
        if self._run_metadata is None:
            assert self._backend is not None
            self._run_metadata = self._backend.metadata_of(self.id, until=self.as_of)
        return self._run_metadata

    def set_stage(
        self, stage: ModelStages | str, force: bool = False, reason: str | None = None
    ) -> ModelVersionResponse:
        assert self._backend is not None
        return self._backend.update_model_version(self.id, stage=stage, force=force, reason=reason)

    # -- linked artifacts (None when absent, as in ZenML) -----------------------------

    def _linked(self, kind: str | None) -> dict[str, dict[str, ArtifactVersionResponse]]:
        """``{name: {version: artifact version}}`` of one kind (None: every kind)."""
        assert self._backend is not None
        linked: dict[str, dict[str, ArtifactVersionResponse]] = {}
        for link in self._backend.linked_artifacts(self.id, until=self.as_of):
            if kind is None or link.kind == kind:
                artifact = link.artifact
                linked.setdefault(artifact.name, {})[artifact.version] = artifact
        return linked

    def get_artifact(
        self, name: str, version: str | int | None = None
    ) -> ArtifactVersionResponse | None:
        """The newest linked version of artifact ``name`` (or that version), of any kind."""
        return _pick(self._linked(None).get(name), version)

    def get_model_artifact(
        self, name: str, version: str | int | None = None
    ) -> ArtifactVersionResponse | None:
        return _pick(self._linked(ArtifactType.MODEL).get(name), version)

    def get_data_artifact(
        self, name: str, version: str | int | None = None
    ) -> ArtifactVersionResponse | None:
        return _pick(self._linked(ArtifactType.DATA).get(name), version)

    def get_deployment_artifact(
        self, name: str, version: str | int | None = None
    ) -> ArtifactVersionResponse | None:
        return _pick(self._linked(ArtifactType.DEPLOYMENT).get(name), version)

    @property
    def data_artifacts(self) -> dict[str, dict[str, ArtifactVersionResponse]]:
        """``{name: {version: artifact version}}`` of the data artifacts linked here."""
        return self._linked(ArtifactType.DATA)

    @property
    def model_artifacts(self) -> dict[str, dict[str, ArtifactVersionResponse]]:
        return self._linked(ArtifactType.MODEL)

    @property
    def deployment_artifacts(self) -> dict[str, dict[str, ArtifactVersionResponse]]:
        return self._linked(ArtifactType.DEPLOYMENT)

    @property
    def pipeline_runs(self) -> dict[str, PipelineRunResponse]:
        """Runs that ran against this version, by run name."""
        from .backend.interface import PageRequest

        assert self._backend is not None
        runs = self._backend.list_pipeline_runs(None, None, self.id, PageRequest(size=10_000))
        return {run.name: run for run in runs}

    @property
    def producing_runs(self) -> list[PipelineRunResponse]:
        """Runs that created or named this version (not those that resolved it from a stage)."""
        return [r for r in self.pipeline_runs.values() if r.model_version_how != "stage"]

    @property
    def consuming_runs(self) -> list[PipelineRunResponse]:
        """Runs that resolved this version from a stage or read one of its artifacts."""
        assert self._backend is not None
        return self._backend.consuming_runs(self.id)


def _pick(
    versions: dict[str, ArtifactVersionResponse] | None, version: str | int | None
) -> ArtifactVersionResponse | None:
    if not versions:
        return None
    if version is None:
        return max(versions.values(), key=lambda v: v.number)
    return versions.get(str(version))


@dataclass(frozen=True)
class StageChange:
    """One entry of a model's promotion history."""

    position: int
    timestamp: datetime
    model_id: UUID
    version_id: UUID
    version: str
    #: the stage entered, or ``"deleted"`` when the version (or its model) was deleted while
    #: holding ``previous_stage``
    stage: ModelStages | str
    previous_stage: ModelStages
    displaced_version: str | None
    actor: str
    reason: str | None


@dataclass(frozen=True)
class AliasChange:
    """One set, move or removal of an alias: from which version to which, who, when, why."""

    position: int
    timestamp: datetime
    model_id: UUID
    alias: str
    #: the version the alias names after this change (None: removed)
    version_id: UUID | None
    version_number: int | None
    #: the version it named before (None: it was new)
    previous_version_id: UUID | None
    previous_version_number: int | None
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


@dataclass
class ArtifactVersionResponse:
    """One version of a named artifact: where its bytes are, what made it, who reads it."""

    id: UUID
    name: str
    number: int
    uri: str
    content_hash: str
    materializer: str
    data_type: str
    artifact_type: str
    size_bytes: int
    producer_run_id: UUID | None
    producer_step: str | None
    tags: list[str]
    warnings: list[str]
    created: datetime
    user: str
    _backend: Backend | None = field(default=None, repr=False, compare=False)

    @property
    def version(self) -> str:
        """The version as ZenML shows it: the number, as a string."""
        return str(self.number)

    def load(self) -> Any:
        """The stored value, read back through the materializer that wrote it."""
        from .artifacts.content_store import StoredArtifact

        assert self._backend is not None
        stored = StoredArtifact(
            uri=self.uri,
            content_hash=self.content_hash,
            materializer=self.materializer,
            data_type=self.data_type,
            artifact_type=self.artifact_type,
            size_bytes=self.size_bytes,
        )
        return self._backend.load_artifact(stored, f"artifact {self.name} version {self.number}")

    @property
    def run_metadata(self) -> dict[str, MetadataValue]:
        assert self._backend is not None
        return self._backend.metadata_of(self.id)

    @property
    def producer_run(self) -> PipelineRunResponse | None:
        if self.producer_run_id is None:
            return None
        assert self._backend is not None
        return self._backend.get_pipeline_run(self.producer_run_id)

    @property
    def consumers(self) -> list[ArtifactConsumer]:
        """The runs and steps that read this version, in log order."""
        assert self._backend is not None
        return self._backend.consumers_of(self.id)


@dataclass(frozen=True)
class ArtifactConsumer:
    run_id: UUID
    step: str
    input_name: str
    position: int


@dataclass(frozen=True)
class StepRunResponse:
    name: str
    status: str
    inputs: dict[str, UUID]
    outputs: dict[str, UUID]
    duration_ms: float
    error: str | None
    finished: datetime


@dataclass
class PipelineRunResponse:
    """One run: its model version and how it got it, its steps, how it ended."""

    id: UUID
    name: str
    pipeline: str
    status: str
    model_id: UUID | None
    model_version_id: UUID | None
    model_version_how: str | None
    stage: str | None
    parameters: dict[str, Any]
    error: str | None
    started: datetime
    finished: datetime | None
    user: str
    #: last sign of life: the start, a finished step, or the end
    updated: datetime
    #: still ``running`` but silent for longer than ``MODELPLANE_STALE_RUN_SECONDS``: its
    #: process most likely died; ``modelplane run mark-failed`` ends it
    stale: bool
    _backend: Backend | None = field(default=None, repr=False, compare=False)

    @property
    def model_version(self) -> ModelVersionResponse | None:
        if self.model_version_id is None:
            return None
        assert self._backend is not None
        return self._backend.get_model_version_by_id(self.model_version_id, deleted_ok=True)

    @property
    def steps(self) -> dict[str, StepRunResponse]:
        assert self._backend is not None
        return self._backend.steps_of(self.id)

    @property
    def run_metadata(self) -> dict[str, MetadataValue]:
        assert self._backend is not None
        return self._backend.metadata_of(self.id)


@dataclass(frozen=True)
class LinkedArtifact:
    """An artifact version linked to a model version, and as what (``model``, ``data``,
    ``deployment``)."""

    kind: str
    artifact: ArtifactVersionResponse


@dataclass(frozen=True)
class TokenResponse:
    """An API token as listed: never its secret, which only its creator saw, once."""

    name: str
    role: str
    created: datetime
    created_by: str
    revoked: datetime | None = None
    revoked_by: str | None = None
