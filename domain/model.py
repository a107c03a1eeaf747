"""The ``Model`` aggregate and the ``ModelName`` index that keeps live names unique.

A model's own stream carries what its invariants need: its descriptive fields, the counter
that numbers its versions (numbers are never reused) and which version holds each exclusive
stage. What grows with the number of versions lives elsewhere, so that a model with 100,000
versions stays a small aggregate (small snapshots, quick loads): each version's details and
current stage in its ``ModelVersion`` stream, each custom version name in a ``VersionName``
index entry. Models registered before that (``keeps_version_maps``) keep the two maps they
always kept, ``stage_of`` and ``custom_names``, and go on using them.

The public methods are the commands: each checks the rules it is about and raises a domain
error before triggering any event, so a refused command leaves nothing pending. The private
``@event`` methods only apply events (they also run on replay, where nothing is re-checked).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar
from uuid import NAMESPACE_URL, UUID, uuid4, uuid5

from eventsourcing.domain import Aggregate, event

from . import stages
from .aliases import check_alias
from .errors import (
    EntityDeletedError,
    EntityExistsError,
    NotFoundError,
    StageOccupiedError,
    ValidationError,
)
from .expected_holder import check_holder
from .key_value_tags import check_key, check_value
from .model_card import DESCRIPTIVE_FIELDS
from .model_version import ModelVersion
from .names import check_version_name, edited_tags
from .version_names import VersionName, version_name_id

__all__ = ["DESCRIPTIVE_FIELDS", "Model", "ModelName", "model_name_id"]


class Model(Aggregate, created_event_name="Registered"):
    """A registered model: one life of a name, from registration to deletion."""

    TOPIC: ClassVar[str] = "modelplane:Model"

    class Created(Aggregate.Created):
        """Never stored: the library requires a topic on its base "created" class."""

        TOPIC: ClassVar[str] = "modelplane:Model.Created"

    class Registered(Created):
        """Version 2 says where the model keeps its versions' stages and custom names: a
        model registered before (version 1) kept both in maps of its own."""

        TOPIC: ClassVar[str] = "modelplane:Model.Registered"
        class_version: ClassVar[int] = 2
        name: str
        fields: dict[str, Any]
        tags: list[str]
        actor: str
        keeps_version_maps: bool

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["keeps_version_maps"] = True

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

    class AliasSet(Aggregate.Event):
        """An alias now names a version: set, or moved from ``previous_version_id`` (one event
        either way, so the one-holder rule never shows two holders)."""

        TOPIC: ClassVar[str] = "modelplane:Model.AliasSet"
        alias: str
        version_id: str
        version_number: int
        previous_version_id: str | None
        previous_version_number: int | None
        actor: str
        reason: str | None

    class AliasRemoved(Aggregate.Event):
        """An alias names no version any more: removed, or its version (or model) deleted."""

        TOPIC: ClassVar[str] = "modelplane:Model.AliasRemoved"
        alias: str
        version_id: str
        version_number: int
        actor: str
        reason: str | None

    class KeyValueTagSet(Aggregate.Event):
        """A key-value tag set (added, or its value replaced)."""

        TOPIC: ClassVar[str] = "modelplane:Model.KeyValueTagSet"
        key: str
        value: str
        actor: str

    class KeyValueTagDeleted(Aggregate.Event):
        TOPIC: ClassVar[str] = "modelplane:Model.KeyValueTagDeleted"
        key: str
        actor: str

    def __init__(
        self,
        name: str,
        fields: dict[str, Any],
        tags: list[str],
        actor: str,
        keeps_version_maps: bool = False,
    ) -> None:
        self.name = name
        self.fields = dict(fields)
        self.tags = list(tags)
        self.deleted = False
        self.last_number = 0
        #: exclusive stage -> the version id holding it
        self.exclusive_holders: dict[str, str] = {}
        #: True for models registered before versions kept their own stage and custom names
        #: had index entries: such a model fills the two maps below (they stay empty else).
        self.keeps_version_maps = keeps_version_maps
        #: custom (non-numeric) version names of live versions -> version id
        self.custom_names: dict[str, str] = {}
        #: version id -> stage, for live versions whose stage is not ``none``
        self.stage_of: dict[str, str] = {}
        #: alias -> {"version_id", "number"} of the version it names (a few per model)
        self.aliases: dict[str, dict[str, Any]] = {}
        #: key-value tags (MLflow's), key -> value
        self.key_value_tags: dict[str, str] = {}

    @staticmethod
    def create_id(**_: Any) -> UUID:
        return uuid4()

    # ----------------------------------------------------------------- commands

    @classmethod
    def register(
        cls, index: ModelName, *, fields: dict[str, Any], tags: list[str], actor: str
    ) -> Model:
        """A new model under the name of ``index``, which it claims: save both together, so
        that of two registrations of one name only one can be appended."""
        if index.model_id is not None:
            msg = f"Unable to register model '{index.name}': a model with that name already exists."
            raise EntityExistsError(msg)
        model = cls(
            name=index.name, fields=fields, tags=tags, actor=actor, keeps_version_maps=False
        )
        index.claim(str(model.id))
        return model

    def update(
        self,
        *,
        fields: dict[str, Any] | None = None,
        add_tags: Iterable[str] = (),
        remove_tags: Iterable[str] = (),
        rename: tuple[ModelName, ModelName] | None = None,
        actor: str,
    ) -> bool:
        """Change descriptive fields, tags and name as one ``Updated`` event.

        ``rename`` is the index entry of the current name and that of the new one: the new
        name must be free; the old one is released and the new one claimed, to be saved with
        the model. Returns False (and triggers nothing) when nothing would change.
        """
        self.check_live()
        changes = {k: v for k, v in (fields or {}).items() if self.fields.get(k) != v}
        tags = edited_tags(self.tags, add_tags, remove_tags)
        if tags != self.tags:
            changes["tags"] = tags
        if rename is not None and rename[1].name != self.name:
            current, new = rename
            if new.model_id is not None:
                msg = f"Unable to rename model '{self.name}' to '{new.name}': that name is taken."
                raise EntityExistsError(msg)
            current.release(str(self.id))
            new.claim(str(self.id))
            changes["name"] = new.name
        if not changes:
            return False
        self._update(changes=changes, actor=actor)
        return True

    def delete(
        self,
        index: ModelName,
        *,
        holders: Iterable[ModelVersion],
        actor: str,
        reason: str | None = None,
    ) -> None:
        """Delete the model and release its name (``index``, to be saved with it).

        ``holders`` are the versions holding its exclusive stages (``held_stages()``): the
        event names them, so the stage history shows them leaving their stage.
        """
        self.check_live()
        given = {str(version.id): version for version in holders}
        held = []
        for stage, version_id in self.held_stages().items():
            if version_id not in given:
                msg = f"Deleting model '{self.name}' needs its {stage} holder {version_id}."
                raise ValueError(msg)
            held.append(
                {"stage": stage, "version_id": version_id, "version_name": given[version_id].name}
            )
        self._drop_aliases(None, f"model '{self.name}' deleted", reason, actor)
        self._delete(actor=actor, reason=reason, holders=held)
        index.release(str(self.id))

    def add_version(
        self,
        *,
        name: str | None = None,
        name_entry: VersionName | None = None,
        description: str | None = None,
        tags: Iterable[str] = (),
        source: str | None = None,
        source_run_id: str | None = None,
        source_run_link: str | None = None,
        actor: str,
    ) -> ModelVersion:
        """A new version with the next number (never reused), named by it unless ``name``
        (a custom name, unique among the live versions) is given, with its index entry
        ``name_entry`` (see ``needs_name_entries``); ``source`` and the run it came from are
        fixed here, for good. Save the version, the entry and the model together."""
        self.check_live()
        number = self.last_number + 1
        version_name = str(number) if name is None else check_version_name(name)
        if name is not None and self._name_taken(version_name, name_entry):
            msg = (
                f"Unable to create model version {self.name} (version {version_name}): "
                "a version with the same name already exists."
            )
            raise EntityExistsError(msg)
        version = ModelVersion(
            model_id=str(self.id),
            number=number,
            name=version_name,
            description=description,
            tags=list(tags),
            actor=actor,
            source=source,
            source_run_id=source_run_id,
            source_run_link=source_run_link,
        )
        self._add_version(version_id=str(version.id), number=number, name=version_name, actor=actor)
        if name is not None and name_entry is not None:
            name_entry.claim(str(version.id))
        return version

    def update_version(
        self,
        version: ModelVersion,
        *,
        name: str | None = None,
        description: str | None = None,
        add_tags: Iterable[str] = (),
        remove_tags: Iterable[str] = (),
        name_entries: tuple[VersionName | None, VersionName | None] | None = None,
        stage: object = None,
        displaced: ModelVersion | None = None,
        force: bool = False,
        expected_holder: str | None = None,
        reason: str | None = None,
        actor: str,
    ) -> bool:
        """Every change to one version as one command: all its events are triggered, or none.

        A rename and a promotion asked for together are checked together (the new name is
        free; the stage is free, or ``force`` is given) before any event is triggered, so a
        refused promotion leaves the name as it was. ``name_entries`` are the index entries
        of the current name (None for a number) and of the new one (``needs_name_entries``);
        ``displaced`` is the version the promotion would move to archived
        (``displaced_by``). ``expected_holder`` (canonical, see ``expected_holder.py``) is
        checked first, against this model's own holder index, so a stale caller is told so
        (``PreconditionFailedError``) even where it would also need force. Returns False
        when nothing changed. Save the model, the version, the displaced version and the
        entries together.
        """
        self.check_version_live(version)
        new_name = name if name is not None and name != version.name else None
        old_entry, new_entry = name_entries or (None, None)
        if new_name is not None:
            new_name = check_version_name(new_name)
            if self._name_taken(new_name, new_entry):
                msg = f"Model '{self.name}' already has a version named '{new_name}'."
                raise EntityExistsError(msg)
            if self.needs_name_entries and version.name != str(version.number):
                self._check_entry(version.name, old_entry)
        target = None if stage is None else stages.assignable_stage(stage)
        if expected_holder is not None:
            if target is None:
                raise ValidationError("expected_holder is a condition on a promotion.")
            check_holder(
                expected_holder, target, self._holder_of(target, version, displaced), self.name
            )
        if target is not None:
            self._check_promotion(version, target, displaced, force, new_name or version.name)
        # Everything is checked: trigger the events.
        if new_name is not None:
            self._rename_version(
                version_id=str(version.id), old_name=version.name, new_name=new_name, actor=actor
            )
            if old_entry is not None:
                old_entry.release(str(version.id))
            if new_entry is not None:
                new_entry.claim(str(version.id))
        changed = version.update(
            description=description,
            add_tags=add_tags,
            remove_tags=remove_tags,
            name=new_name,
            actor=actor,
        )
        if target is not None:
            promoted = self.promote(
                version, target, displaced=displaced, force=force, reason=reason, actor=actor
            )
            changed = changed or promoted
        return changed

    def promote(
        self,
        version: ModelVersion,
        stage: object,
        *,
        displaced: ModelVersion | None = None,
        force: bool = False,
        reason: str | None = None,
        actor: str,
    ) -> bool:
        """Move a version into a stage; False if it is there already.

        An exclusive stage another version holds is refused (``StageOccupiedError``) unless
        ``force`` is given; then two events are triggered: that holder (``displaced``, see
        ``displaced_by``) moves to archived, then this version moves in.
        """
        self.check_version_live(version)
        target = stages.assignable_stage(stage)
        version_id = str(version.id)
        current = self.stage_of_version(version)
        if target == current:
            return False
        archived = self._check_promotion(version, target, displaced, force, version.name)
        if archived is not None:
            if not self.keeps_version_maps:
                archived.record_stage(stages.ARCHIVED)
            why = f"displaced from {target} by version '{version.name}'"
            self._change_stage(
                version_id=str(archived.id),
                version_name=archived.name,
                stage=stages.ARCHIVED,
                previous_stage=target,
                displaced_version_id=None,
                displaced_version_name=None,
                actor=actor,
                reason=f"{why}: {reason}" if reason else why,
            )
        self._change_stage(
            version_id=version_id,
            version_name=version.name,
            stage=target,
            previous_stage=current,
            displaced_version_id=None if archived is None else str(archived.id),
            displaced_version_name=None if archived is None else archived.name,
            actor=actor,
            reason=reason,
        )
        if not self.keeps_version_maps:
            version.record_stage(target)
        return True

    def delete_version(
        self,
        version: ModelVersion,
        *,
        name_entry: VersionName | None = None,
        actor: str,
        reason: str | None = None,
    ) -> None:
        """Delete a version: its custom name is free again (``name_entry`` is its index
        entry, see ``needs_name_entries``), its stage empty; its number stays used. Triggers
        the version's own ``Deleted`` too: save the model, the version and the entry."""
        self.check_version_live(version)
        custom = version.name != str(version.number)
        if custom and self.needs_name_entries:
            self._check_entry(version.name, name_entry)
        version_id = str(version.id)
        self._drop_aliases(version_id, f"version '{version.name}' deleted", reason, actor)
        self._delete_version(
            version_id=version_id,
            version_name=version.name,
            stage=self.stage_of_version(version),
            actor=actor,
            reason=reason,
        )
        version.delete(actor=actor)
        if custom and name_entry is not None and self.needs_name_entries:
            name_entry.release(version_id)

    def set_alias(
        self, alias: str, version: ModelVersion, *, actor: str, reason: str | None = None
    ) -> bool:
        """Point ``alias`` at a live version of this model, moving it from the version that
        holds it (one event); False, with nothing triggered, if that version holds it."""
        self.check_version_live(version)
        alias = check_alias(alias)
        held = self._aliases().get(alias)
        version_id = str(version.id)
        if held is not None and held["version_id"] == version_id:
            return False
        self._set_alias(
            alias=alias,
            version_id=version_id,
            version_number=version.number,
            previous_version_id=None if held is None else held["version_id"],
            previous_version_number=None if held is None else held["number"],
            actor=actor,
            reason=reason,
        )
        return True

    def remove_alias(self, alias: str, *, actor: str, reason: str | None = None) -> None:
        """Drop an alias; one no version holds is not found."""
        self.check_live()
        alias = check_alias(alias)
        held = self._aliases().get(alias)
        if held is None:
            raise NotFoundError(f"Model '{self.name}' has no alias '{alias}'.")
        self._remove_alias(
            alias=alias,
            version_id=held["version_id"],
            version_number=held["number"],
            actor=actor,
            reason=reason,
        )

    def set_key_value_tag(self, key: str, value: str, *, actor: str) -> bool:
        """Set a key-value tag; False, with nothing triggered, if it has that value already."""
        self.check_live()
        key = check_key(key)
        value = check_value(value, key)
        if self._key_value_tags().get(key) == value:
            return False
        self._set_key_value_tag(key=key, value=value, actor=actor)
        return True

    def delete_key_value_tag(self, key: str, *, actor: str) -> None:
        """Drop a key-value tag; a key the model does not have is not found."""
        self.check_live()
        key = check_key(key)
        if key not in self._key_value_tags():
            raise NotFoundError(f"Model '{self.name}' has no tag with key '{key}'.")
        self._delete_key_value_tag(key=key, actor=actor)

    # ------------------------------------------------------------------ queries

    def check_live(self) -> None:
        """Refuse any command on a deleted model."""
        if self.deleted:
            raise EntityDeletedError(f"Model '{self.name}' ({self.id}) was deleted.")

    def check_version_live(self, version: ModelVersion) -> None:
        """Refuse a command on a version that was deleted, or whose model was."""
        self.check_live()
        if version.model_id != str(self.id):
            msg = f"Version '{version.name}' is not a version of model '{self.name}'."
            raise NotFoundError(msg)
        if version.deleted:
            msg = f"Version '{version.name}' of model '{self.name}' was deleted."
            raise EntityDeletedError(msg)

    @property
    def needs_name_entries(self) -> bool:
        """Whether custom version names are claimed in ``VersionName`` entries (else the
        model keeps them itself)."""
        return not self.keeps_version_maps

    def stage_of_version(self, version: ModelVersion) -> str:
        """The stage one live version of this model is in now."""
        if self.keeps_version_maps:
            return self.stage_of.get(str(version.id), stages.NONE)
        return version.stage

    def holder(self, stage: str) -> str | None:
        """The version id holding an exclusive stage, if any (None for the other stages,
        which any number of versions may be in)."""
        return self._holders().get(stage)

    def held_stages(self) -> dict[str, str]:
        """Exclusive stage -> the version id holding it, for the stages held, in stage order."""
        holders = self._holders()
        return {stage: holders[stage] for stage in stages.EXCLUSIVE if stage in holders}

    def displaced_by(self, version: ModelVersion, stage: object) -> str | None:
        """The version id that promoting ``version`` into ``stage`` would move to archived."""
        target = stages.assignable_stage(stage)
        if target not in stages.EXCLUSIVE or self.stage_of_version(version) == target:
            return None
        return self.holder(target)

    def alias_holder(self, alias: str) -> str | None:
        """The version id an alias names, if any."""
        held = self._aliases().get(alias)
        return None if held is None else str(held["version_id"])

    def aliases_of(self, version_id: str) -> list[str]:
        """The aliases a version holds, sorted."""
        return sorted(a for a, held in self._aliases().items() if held["version_id"] == version_id)

    def _holder_of(
        self, stage: str, version: ModelVersion, displaced: ModelVersion | None
    ) -> ModelVersion | None:
        """The version holding ``stage`` now: ``version`` itself, or ``displaced``, which
        the caller loaded because ``displaced_by`` named it."""
        holder_id = self.holder(stage)
        if holder_id is None:
            return None
        if holder_id == str(version.id):
            return version
        if displaced is None or str(displaced.id) != holder_id:
            msg = f"Checking {stage}'s holder needs version {holder_id}: pass it as displaced."
            raise ValueError(msg)
        return displaced

    def _check_promotion(
        self,
        version: ModelVersion,
        target: str,
        displaced: ModelVersion | None,
        force: bool,
        shown_name: str,
    ) -> ModelVersion | None:
        """Refuse a promotion into an occupied exclusive stage without force; return the
        holder it moves to archived, if any."""
        holder_id = self.displaced_by(version, target)
        if holder_id is None:
            return None
        if displaced is None or str(displaced.id) != holder_id:
            msg = f"Promoting into {target} moves version {holder_id}: pass it as displaced."
            raise ValueError(msg)
        if not force:
            msg = (
                f"Model version '{displaced.name}' of model '{self.name}' is in "
                f"{target}; promoting version '{shown_name}' needs force=True, "
                f"which moves '{displaced.name}' to archived."
            )
            raise StageOccupiedError(msg, stage=target, holder=displaced.name)
        return displaced

    def _name_taken(self, name: str, entry: VersionName | None) -> bool:
        """Whether a live version holds custom name ``name`` (``entry``: its index entry)."""
        if not self.needs_name_entries:
            return name in self.custom_names
        self._check_entry(name, entry)
        assert entry is not None
        return entry.version_id is not None

    def _check_entry(self, name: str, entry: VersionName | None) -> None:
        """Refuse a command given no index entry, or another name's, for a custom name."""
        if entry is None or entry.id != version_name_id(self.id, name):
            msg = f"A command on version name '{name}' needs its VersionName entry."
            raise ValueError(msg)

    @property
    def keeps_version_maps(self) -> bool:
        # a snapshot taken before the attribute existed is of a model that kept the maps
        return bool(vars(self).get("_keeps_version_maps", True))

    @keeps_version_maps.setter
    def keeps_version_maps(self, value: bool) -> None:
        self._keeps_version_maps = value

    def _holders(self) -> dict[str, str]:
        holders: dict[str, str] | None = vars(self).get("exclusive_holders")
        if holders is None:  # loaded from a snapshot taken before the index existed
            holders = {}
            for version_id, held in self.stage_of.items():
                if held in stages.EXCLUSIVE:
                    holders.setdefault(held, version_id)
            self.exclusive_holders = holders
        return holders

    def _aliases(self) -> dict[str, dict[str, Any]]:
        aliases: dict[str, dict[str, Any]] | None = vars(self).get("aliases")
        if aliases is None:  # loaded from a snapshot taken before models had aliases
            aliases = self.aliases = {}
        return aliases

    def _key_value_tags(self) -> dict[str, str]:
        tags: dict[str, str] | None = vars(self).get("key_value_tags")
        if tags is None:  # loaded from a snapshot taken before key-value tags
            tags = self.key_value_tags = {}
        return tags

    def _drop_aliases(
        self, version_id: str | None, why: str, reason: str | None, actor: str
    ) -> None:
        """Trigger the removal of the aliases a deleted version (None: every version of a
        deleted model) held, saying why, before the deletion's own event."""
        for alias, held in sorted(self._aliases().items()):
            if version_id is None or held["version_id"] == version_id:
                self._remove_alias(
                    alias=alias,
                    version_id=held["version_id"],
                    version_number=held["number"],
                    actor=actor,
                    reason=f"{why}: {reason}" if reason else why,
                )

    # ------------------------------------------------------------------- events

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
        self.exclusive_holders = {}

    @event(VersionAdded)
    def _add_version(self, version_id: str, number: int, name: str, actor: str) -> None:
        self.last_number = number
        if name != str(number) and self.keeps_version_maps:
            self.custom_names[name] = version_id

    @event(VersionRenamed)
    def _rename_version(self, version_id: str, old_name: str, new_name: str, actor: str) -> None:
        if self.keeps_version_maps:
            self.custom_names.pop(old_name, None)
            self.custom_names[new_name] = version_id

    @event(VersionDeleted)
    def _delete_version(
        self, version_id: str, version_name: str, stage: str, actor: str, reason: str | None
    ) -> None:
        self.custom_names.pop(version_name, None)
        self._leave_stage(version_id)
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
        self._leave_stage(version_id)
        if stage in stages.EXCLUSIVE:
            self._holders()[stage] = version_id
        if not self.keeps_version_maps:
            return
        if stage == stages.NONE:
            self.stage_of.pop(version_id, None)
        else:
            self.stage_of[version_id] = stage  # a version already listed keeps its place

    @event(AliasSet)
    def _set_alias(
        self,
        alias: str,
        version_id: str,
        version_number: int,
        previous_version_id: str | None,
        previous_version_number: int | None,
        actor: str,
        reason: str | None,
    ) -> None:
        self._aliases()[alias] = {"version_id": version_id, "number": version_number}

    @event(AliasRemoved)
    def _remove_alias(
        self, alias: str, version_id: str, version_number: int, actor: str, reason: str | None
    ) -> None:
        self._aliases().pop(alias, None)

    @event(KeyValueTagSet)
    def _set_key_value_tag(self, key: str, value: str, actor: str) -> None:
        self._key_value_tags()[key] = value

    @event(KeyValueTagDeleted)
    def _delete_key_value_tag(self, key: str, actor: str) -> None:
        self._key_value_tags().pop(key, None)

    def _leave_stage(self, version_id: str) -> None:
        """Drop the version from the holders index (``stage_of`` is updated by the caller)."""
        holders = self._holders()
        for stage in [s for s, holder in holders.items() if holder == version_id]:
            del holders[stage]


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

    def claim(self, model_id: str) -> None:
        """Give the name to a model; refused while another model holds it."""
        if self.model_id is not None:
            msg = f"The model name '{self.name}' is held by model {self.model_id}."
            raise EntityExistsError(msg)
        self._claim(model_id=model_id)

    def release(self, model_id: str) -> None:
        """Free the name; only the model holding it can."""
        if self.model_id != model_id:
            raise NotFoundError(f"Model {model_id} does not hold the name '{self.name}'.")
        self._release(model_id=model_id)

    @event(Claimed)
    def _claim(self, model_id: str) -> None:
        self.model_id = model_id

    @event(Released)
    def _release(self, model_id: str) -> None:
        self.model_id = None
