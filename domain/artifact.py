"""The ``Artifact`` aggregate: one named artifact and the numbered versions recorded under it.

Artifact versions are numbered per name (1, 2, 3 ...), never reused. The bytes live in the
artifact store; the log records where (URI and content hash), what (type, materializer) and
who made them (run and step), so lineage and replay never need the bytes.

A version's id is derived from the artifact and its number (``version_id_for``), so the
artifact can tell its own versions from others' without a map of every id it ever issued:
an artifact with 100,000 versions stays as small as one with ten. Versions recorded before
that (random ids) are the only ones kept in ``numbers``.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from .errors import NotFoundError
from .link_kinds import DATA, DEPLOYMENT, LINK_KINDS, MODEL, check_link_kind

__all__ = [
    "DATA",
    "DEPLOYMENT",
    "LINK_KINDS",
    "MODEL",
    "Artifact",
    "StoredValue",
    "artifact_id",
    "check_link_kind",
]


class StoredValue(Protocol):
    """Where and how a value was stored (the artifact store's answer)."""

    @property
    def uri(self) -> str: ...
    @property
    def content_hash(self) -> str: ...
    @property
    def materializer(self) -> str: ...
    @property
    def data_type(self) -> str: ...
    @property
    def artifact_type(self) -> str: ...
    @property
    def size_bytes(self) -> int: ...
    @property
    def warnings(self) -> list[str]: ...


def artifact_id(name: str) -> UUID:
    """Name-derived id, so two first versions of one name collide instead of forking."""
    return uuid5(NAMESPACE_URL, f"/modelplane/artifacts/{name}")


class Artifact(Aggregate, created_event_name="Registered"):
    TOPIC: ClassVar[str] = "modelplane:Artifact"

    class Created(Aggregate.Created):
        """Never stored: the library requires a topic on its base "created" class."""

        TOPIC: ClassVar[str] = "modelplane:Artifact.Created"

    class Registered(Created):
        TOPIC: ClassVar[str] = "modelplane:Artifact.Registered"
        name: str
        actor: str

    class VersionRecorded(Aggregate.Event):
        """A stored value became version ``number`` of this artifact."""

        TOPIC: ClassVar[str] = "modelplane:Artifact.VersionRecorded"
        name: str
        version_id: str
        number: int
        uri: str
        content_hash: str
        materializer: str
        data_type: str
        artifact_type: str
        size_bytes: int
        run_id: str | None
        step: str | None
        tags: list[str]
        warnings: list[str]
        actor: str

    class MetadataLogged(Aggregate.Event):
        TOPIC: ClassVar[str] = "modelplane:Artifact.MetadataLogged"
        version_id: str
        metadata: dict[str, Any]
        run_id: str | None
        step: str | None
        actor: str

    def __init__(self, name: str, actor: str) -> None:
        self.name = name
        self.last_number = 0
        #: version id -> number, for versions recorded before ids were derived from numbers
        self.numbers: dict[str, int] = {}

    @staticmethod
    def create_id(name: str, **_: Any) -> UUID:
        return artifact_id(name)

    # ----------------------------------------------------------------- commands

    def record_version(
        self,
        stored: StoredValue,
        *,
        run_id: UUID | str | None = None,
        step: str | None = None,
        tags: list[str] | None = None,
        actor: str,
    ) -> tuple[UUID, int]:
        """Record a stored value as the next version (numbers are never reused); returns the
        new version's id and number."""
        number = self.last_number + 1
        version_id = self.version_id_for(number)
        self._record_version(
            name=self.name,
            version_id=str(version_id),
            number=number,
            uri=stored.uri,
            content_hash=stored.content_hash,
            materializer=stored.materializer,
            data_type=stored.data_type,
            artifact_type=stored.artifact_type,
            size_bytes=stored.size_bytes,
            run_id=None if run_id is None else str(run_id),
            step=step,
            tags=list(tags or []),
            warnings=list(stored.warnings),
            actor=actor,
        )
        return version_id, number

    def log_metadata(
        self,
        version_id: UUID | str,
        metadata: dict[str, Any],
        *,
        number: int,
        run_id: UUID | str | None = None,
        step: str | None = None,
        actor: str,
    ) -> None:
        """Log metadata (already encoded for the log) on one of this artifact's versions,
        ``version_id`` with its ``number``."""
        self.version_number(version_id, number)
        self._log_metadata(
            version_id=str(version_id),
            metadata=metadata,
            run_id=None if run_id is None else str(run_id),
            step=step,
            actor=actor,
        )

    def version_id_for(self, number: int) -> UUID:
        """The id of version ``number`` (for versions recorded since ids were derived)."""
        return uuid5(self.id, str(number))

    def version_number(self, version_id: UUID | str, number: int) -> int:
        """Check that ``version_id`` is this artifact's version ``number`` and return the
        number; ``NotFoundError`` for another artifact's id or a number that is not its."""
        version_id = str(version_id)
        known = self.numbers.get(version_id)
        if known is None and 1 <= number <= self.last_number:
            known = number if str(self.version_id_for(number)) == version_id else None
        if known != number:
            msg = f"Artifact '{self.name}' has no version {number} with id '{version_id}'."
            raise NotFoundError(msg)
        return number

    # ------------------------------------------------------------------- events

    @event(VersionRecorded)
    def _record_version(
        self,
        name: str,
        version_id: str,
        number: int,
        uri: str,
        content_hash: str,
        materializer: str,
        data_type: str,
        artifact_type: str,
        size_bytes: int,
        run_id: str | None,
        step: str | None,
        tags: list[str],
        warnings: list[str],
        actor: str,
    ) -> None:
        self.last_number = number
        if version_id != str(self.version_id_for(number)):  # recorded with a random id
            self.numbers[version_id] = number

    @event(MetadataLogged)
    def _log_metadata(
        self,
        version_id: str,
        metadata: dict[str, Any],
        run_id: str | None,
        step: str | None,
        actor: str,
    ) -> None:
        """The metadata projection keeps the values."""
