"""The ``ModelVersion`` aggregate: one version's own record.

Its number and stage are decided by the owning ``Model`` (which guards uniqueness and the
one-holder-per-stage rule); here live the fields a user edits and the metadata logged on it.
"""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event


class ModelVersion(Aggregate):
    """A version of a model. Every event names the model, so the log reads on its own."""

    TOPIC: ClassVar[str] = "modelplane:ModelVersion"

    class Created(Aggregate.Created):
        TOPIC: ClassVar[str] = "modelplane:ModelVersion.Created"
        model_id: str
        number: int
        name: str
        description: str | None
        tags: list[str]
        actor: str

    class Updated(Aggregate.Event):
        """Carries the new values of the changed fields (``tags`` is the whole new list)."""

        TOPIC: ClassVar[str] = "modelplane:ModelVersion.Updated"
        model_id: str
        changes: dict[str, Any]
        actor: str

    class MetadataLogged(Aggregate.Event):
        """Version 2 adds the run and step that logged it (None outside a run)."""

        TOPIC: ClassVar[str] = "modelplane:ModelVersion.MetadataLogged"
        class_version: ClassVar[int] = 2
        model_id: str
        metadata: dict[str, Any]
        run_id: str | None
        step: str | None
        actor: str

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["run_id"] = None
            state["step"] = None

    class ArtifactLinked(Aggregate.Event):
        """An artifact version now belongs to this model version, as data, model or deployment."""

        TOPIC: ClassVar[str] = "modelplane:ModelVersion.ArtifactLinked"
        model_id: str
        artifact_id: str
        artifact_name: str
        artifact_version_id: str
        artifact_version_number: int
        kind: str
        run_id: str | None
        step: str | None
        actor: str

    class Deleted(Aggregate.Event):
        TOPIC: ClassVar[str] = "modelplane:ModelVersion.Deleted"
        model_id: str
        actor: str

    @event(Created)
    def __init__(
        self,
        model_id: str,
        number: int,
        name: str,
        description: str | None,
        tags: list[str],
        actor: str,
    ) -> None:
        self.model_id = model_id
        self.number = number
        self.name = name
        self.description = description
        self.tags = list(tags)
        self.deleted = False
        #: artifact version id -> link kind, so a second identical link appends nothing
        self.links: dict[str, str] = {}

    @staticmethod
    def create_id(**_: Any) -> UUID:
        return uuid4()

    @event(Updated)
    def _update(self, model_id: str, changes: dict[str, Any], actor: str) -> None:
        for key, value in changes.items():
            setattr(self, key, list(value) if key == "tags" else value)

    @event(MetadataLogged)
    def _log_metadata(
        self,
        model_id: str,
        metadata: dict[str, Any],
        run_id: str | None,
        step: str | None,
        actor: str,
    ) -> None:
        """Nothing to keep on the aggregate: the metadata projection holds the values."""

    @event(ArtifactLinked)
    def _link_artifact(
        self,
        model_id: str,
        artifact_id: str,
        artifact_name: str,
        artifact_version_id: str,
        artifact_version_number: int,
        kind: str,
        run_id: str | None,
        step: str | None,
        actor: str,
    ) -> None:
        self.links[artifact_version_id] = kind

    @event(Deleted)
    def _delete(self, model_id: str, actor: str) -> None:
        self.deleted = True
