"""The ``Model`` aggregate and the ``ModelName`` index that keeps live names unique.

A model's own stream carries what its invariants need: its descriptive fields, the counter
that numbers its versions (numbers are never reused), the custom version names in use, and
which version holds each stage. Per-version details (description, tags, metadata) live in
``ModelVersion`` streams so that a model with 100,000 versions stays a small aggregate.
"""

from __future__ import annotations

from typing import Any, ClassVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from . import stages
from .model_card import DESCRIPTIVE_FIELDS

__all__ = ["DESCRIPTIVE_FIELDS", "Model", "ModelName", "model_name_id"]


class Model(Aggregate, created_event_name="Registered"):
    """A registered model: one life of a name, from registration to deletion."""

    TOPIC: ClassVar[str] = "modelplane:Model"

    class Created(Aggregate.Created):
        """Never stored: the library requires a topic on its base "created" class."""

        TOPIC: ClassVar[str] = "modelplane:Model.Created"

    class Registered(Created):
        TOPIC: ClassVar[str] = "modelplane:Model.Registered"
        name: str
        fields: dict[str, Any]
        tags: list[str]
        actor: str

    class Updated(Aggregate.Event):
        """Carries the new values of the changed fields (``tags`` is the whole new list)."""

        TOPIC: ClassVar[str] = "modelplane:Model.Updated"
        changes: dict[str, Any]
        actor: str

    class Deleted(Aggregate.Event):
        """Version 2 names the versions that held an exclusive stage until this deletion,
        so the stage history shows them leaving it (``production -> deleted``)."""

        TOPIC: ClassVar[str] = "modelplane:Model.Deleted"
        class_version: ClassVar[int] = 2
        actor: str
        reason: str | None
        #: [{"stage", "version_id", "version_name"}] of the exclusive stages' holders
        holders: list[dict[str, str]]

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["holders"] = []

    class VersionAdded(Aggregate.Event):
        """The model allocated the next number (and the name, if custom) to a new version."""

        TOPIC: ClassVar[str] = "modelplane:Model.VersionAdded"
        version_id: str
        number: int
        name: str
        actor: str

    class VersionRenamed(Aggregate.Event):
        TOPIC: ClassVar[str] = "modelplane:Model.VersionRenamed"
        version_id: str
        old_name: str
        new_name: str
        actor: str

    class VersionDeleted(Aggregate.Event):
        """Version 2 adds the reason given for the deletion (None when none was given)."""

        TOPIC: ClassVar[str] = "modelplane:Model.VersionDeleted"
        class_version: ClassVar[int] = 2
        version_id: str
        version_name: str
        stage: str
        actor: str
        reason: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["reason"] = None

    class StageChanged(Aggregate.Event):
        """One version moved between stages; a forced promotion appends two of these."""

        TOPIC: ClassVar[str] = "modelplane:Model.StageChanged"
        version_id: str
        version_name: str
        stage: str
        previous_stage: str
        displaced_version_id: str | None
        displaced_version_name: str | None
        actor: str
        reason: str | None

    def __init__(self, name: str, fields: dict[str, Any], tags: list[str], actor: str) -> None:
        self.name = name
        self.fields = dict(fields)
        self.tags = list(tags)
        self.deleted = False
        self.last_number = 0
        #: custom (non-numeric) version names of live versions -> version id
        self.custom_names: dict[str, str] = {}
        #: version id -> stage, for live versions whose stage is not ``none``
        self.stage_of: dict[str, str] = {}

    @staticmethod
    def create_id(**_: Any) -> UUID:
        from uuid import uuid4

        return uuid4()

    def holder(self, stage: str) -> str | None:
        """The version id holding an exclusive stage, if any."""
        for version_id, held in self.stage_of.items():
            if held == stage:
                return version_id
        return None

    @event(Updated)
    def _update(self, changes: dict[str, Any], actor: str) -> None:
        for key, value in changes.items():
            if key == "tags":
                self.tags = list(value)
            elif key == "name":
                self.name = value
            else:
                self.fields[key] = value

    @event(Deleted)
    def _delete(self, actor: str, reason: str | None, holders: list[dict[str, str]]) -> None:
        self.deleted = True
        self.stage_of.clear()
        self.custom_names.clear()

    @event(VersionAdded)
    def _add_version(self, version_id: str, number: int, name: str, actor: str) -> None:
        self.last_number = number
        if name != str(number):
            self.custom_names[name] = version_id

    @event(VersionRenamed)
    def _rename_version(self, version_id: str, old_name: str, new_name: str, actor: str) -> None:
        self.custom_names.pop(old_name, None)
        self.custom_names[new_name] = version_id

    @event(VersionDeleted)
    def _delete_version(
        self, version_id: str, version_name: str, stage: str, actor: str, reason: str | None
    ) -> None:
        self.custom_names.pop(version_name, None)
        self.stage_of.pop(version_id, None)

    @event(StageChanged)
    def _change_stage(
        self,
        version_id: str,
        version_name: str,
        stage: str,
        previous_stage: str,
        displaced_version_id: str | None,
        displaced_version_name: str | None,
        actor: str,
        reason: str | None,
    ) -> None:
        if stage == stages.NONE:
            self.stage_of.pop(version_id, None)
        else:
            self.stage_of[version_id] = stage


def model_name_id(name: str) -> UUID:
    """Name-derived id of the index entry, so two registrations of one name collide."""
    return uuid5(NAMESPACE_URL, f"/modelplane/model-names/{name}")


class ModelName(Aggregate):
    """Index entry for one model name: which model (if any) holds it now.

    Registering appends ``Claimed`` here in the same atomic save as ``Model.Registered``, so
    two concurrent registrations of one name cannot both succeed; deleting appends
    ``Released``, after which the name may be registered again.
    """

    TOPIC: ClassVar[str] = "modelplane:ModelName"

    class Created(Aggregate.Created):
        TOPIC: ClassVar[str] = "modelplane:ModelName.Created"
        name: str

    class Claimed(Aggregate.Event):
        TOPIC: ClassVar[str] = "modelplane:ModelName.Claimed"
        model_id: str

    class Released(Aggregate.Event):
        TOPIC: ClassVar[str] = "modelplane:ModelName.Released"
        model_id: str

    @event(Created)
    def __init__(self, name: str) -> None:
        self.name = name
        self.model_id: str | None = None

    @staticmethod
    def create_id(name: str) -> UUID:
        return model_name_id(name)

    @event(Claimed)
    def claim(self, model_id: str) -> None:
        self.model_id = model_id

    @event(Released)
    def release(self, model_id: str) -> None:
        self.model_id = None
