"""The ``ModelVersion`` aggregate: one version's own record.

Its number and stage are decided by the owning ``Model`` (which guards uniqueness and the
one-holder-per-stage rule): a version is created, renamed, promoted and deleted through the
model's commands. Here live the fields a user edits, the metadata logged on it, its links to
artifact versions and its current stage (so the model need not remember the stage of every
archived version); every command refuses a deleted version.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from . import stages
from .artifact import Artifact, check_link_kind
from .errors import EntityDeletedError, NotFoundError
from .key_value_tags import check_key, check_value
from .names import edited_tags


class ModelVersion(Aggregate):
    """A version of a model. Every event names the model, so the log reads on its own."""

    TOPIC: ClassVar[str] = "modelplane:ModelVersion"

    class Created(Aggregate.Created):
        """Version 2 adds where the version came from, as MLflow records it: ``source`` (a
        URI), ``source_run_id`` and ``source_run_link`` (the run that made it, in another
        system: not a modelplane pipeline run), fixed at creation; None before."""

        TOPIC: ClassVar[str] = "modelplane:ModelVersion.Created"
        class_version: ClassVar[int] = 2
        model_id: str
        number: int
        name: str
        description: str | None
        tags: list[str]
        actor: str
        source: str | None
        source_run_id: str | None
        source_run_link: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["source"] = None
            state["source_run_id"] = None
            state["source_run_link"] = None

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

    class StageSet(Aggregate.Event):
        """The version's own copy of where ``Model.StageChanged`` moved it (saved with it).

        The model's event is the history (who, why, what it displaced); this one only lets
        the version answer "which stage am I in" from its own stream.
        """

        TOPIC: ClassVar[str] = "modelplane:ModelVersion.StageSet"
        model_id: str
        stage: str

    class Deleted(Aggregate.Event):
        TOPIC: ClassVar[str] = "modelplane:ModelVersion.Deleted"
        model_id: str
        actor: str

    class KeyValueTagSet(Aggregate.Event):
        """A key-value tag set (added, or its value replaced)."""

        TOPIC: ClassVar[str] = "modelplane:ModelVersion.KeyValueTagSet"
        model_id: str
        key: str
        value: str
        actor: str

    class KeyValueTagDeleted(Aggregate.Event):
        TOPIC: ClassVar[str] = "modelplane:ModelVersion.KeyValueTagDeleted"
        model_id: str
        key: str
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
        source: str | None = None,
        source_run_id: str | None = None,
        source_run_link: str | None = None,
    ) -> None:
        self.model_id = model_id
        self.number = number
        self.name = name
        self.description = description
        self.tags = list(tags)
        self.deleted = False
        #: kept from ``StageSet`` (models registered before it kept every stage themselves)
        self.stage = stages.NONE
        #: artifact version id -> link kind, so a second identical link appends nothing
        self.links: dict[str, str] = {}
        #: key-value tags (MLflow's), key -> value (``source`` and the run stay in the log
        #: and the read tables: nothing here decides on them)
        self.key_value_tags: dict[str, str] = {}

    @staticmethod
    def create_id(**_: Any) -> UUID:
        return uuid4()

    # ----------------------------------------------------------------- commands

    def update(
        self,
        *,
        description: str | None = None,
        add_tags: Iterable[str] = (),
        remove_tags: Iterable[str] = (),
        name: str | None = None,
        actor: str,
    ) -> bool:
        """Change the description, tags and name as one ``Updated`` event; False if nothing
        would change. A new name comes from ``Model.update_version``, which checks it is free."""
        self.check_live()
        changes: dict[str, Any] = {}
        if description is not None and description != self.description:
            changes["description"] = description
        tags = edited_tags(self.tags, add_tags, remove_tags)
        if tags != self.tags:
            changes["tags"] = tags
        if name is not None and name != self.name:
            changes["name"] = name
        if not changes:
            return False
        self._update(model_id=self.model_id, changes=changes, actor=actor)
        return True

    def log_metadata(
        self,
        metadata: dict[str, Any],
        *,
        run_id: UUID | str | None = None,
        step: str | None = None,
        actor: str,
    ) -> None:
        """Log metadata (already encoded for the log) on a live version."""
        self.check_live()
        self._log_metadata(
            model_id=self.model_id,
            metadata=metadata,
            run_id=None if run_id is None else str(run_id),
            step=step,
            actor=actor,
        )

    def link_artifact(
        self,
        artifact: Artifact,
        artifact_version_id: UUID | str,
        *,
        number: int,
        kind: str,
        run_id: UUID | str | None = None,
        step: str | None = None,
        actor: str,
    ) -> bool:
        """Link version ``number`` of ``artifact`` (id ``artifact_version_id``) to this
        version as ``kind``; the same link again appends nothing (returns False). A new kind
        for a linked version is a new link."""
        self.check_live()
        check_link_kind(kind)
        artifact.version_number(artifact_version_id, number)
        if self.links.get(str(artifact_version_id)) == kind:
            return False
        self._link_artifact(
            model_id=self.model_id,
            artifact_id=str(artifact.id),
            artifact_name=artifact.name,
            artifact_version_id=str(artifact_version_id),
            artifact_version_number=number,
            kind=kind,
            run_id=None if run_id is None else str(run_id),
            step=step,
            actor=actor,
        )
        return True

    def record_stage(self, stage: str) -> None:
        """Keep the stage ``Model.promote`` just moved this version to (it checked the rules)."""
        self.check_live()
        self._set_stage(model_id=self.model_id, stage=stage)

    def delete(self, *, actor: str) -> None:
        """Mark the version deleted (``Model.delete_version`` calls this after its own event)."""
        self.check_live()
        self._delete(model_id=self.model_id, actor=actor)

    def set_key_value_tag(self, key: str, value: str, *, actor: str) -> bool:
        """Set a key-value tag; False, with nothing triggered, if it has that value already."""
        self.check_live()
        key = check_key(key)
        value = check_value(value, key)
        if self._key_value_tags().get(key) == value:
            return False
        self._set_key_value_tag(model_id=self.model_id, key=key, value=value, actor=actor)
        return True

    def delete_key_value_tag(self, key: str, *, actor: str) -> None:
        """Drop a key-value tag; a key the version does not have is not found."""
        self.check_live()
        key = check_key(key)
        if key not in self._key_value_tags():
            msg = f"Version '{self.name}' of model {self.model_id} has no tag with key '{key}'."
            raise NotFoundError(msg)
        self._delete_key_value_tag(model_id=self.model_id, key=key, actor=actor)

    def _key_value_tags(self) -> dict[str, str]:
        tags: dict[str, str] | None = vars(self).get("key_value_tags")
        if tags is None:  # loaded from a snapshot taken before key-value tags
            tags = self.key_value_tags = {}
        return tags

    def check_live(self) -> None:
        """Refuse any command on a deleted version."""
        if self.deleted:
            msg = f"Version '{self.name}' ({self.id}) of model {self.model_id} was deleted."
            raise EntityDeletedError(msg)

    # ------------------------------------------------------------------- events

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

    @event(StageSet)
    def _set_stage(self, model_id: str, stage: str) -> None:
        self.stage = stage

    @event(Deleted)
    def _delete(self, model_id: str, actor: str) -> None:
        self.deleted = True

    @event(KeyValueTagSet)
    def _set_key_value_tag(self, model_id: str, key: str, value: str, actor: str) -> None:
        self._key_value_tags()[key] = value

    @event(KeyValueTagDeleted)
    def _delete_key_value_tag(self, model_id: str, key: str, actor: str) -> None:
        self._key_value_tags().pop(key, None)
