"""The ``Artifact`` aggregate: one named artifact and the numbered versions recorded under it.

Artifact versions are numbered per name (1, 2, 3 ...), never reused. The bytes live in the
artifact store; the log records where (URI and content hash), what (type, materializer) and
who made them (run and step), so lineage and replay never need the bytes.
"""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

#: Kinds of link between a model version and an artifact version.
DATA = "data"
MODEL = "model"
DEPLOYMENT = "deployment"
LINK_KINDS: tuple[str, ...] = (DATA, MODEL, DEPLOYMENT)


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
        #: version id -> number, to refuse metadata for a version that is not this artifact's
        self.numbers: dict[str, int] = {}

    @staticmethod
    def create_id(name: str, **_: Any) -> UUID:
        return artifact_id(name)

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
