"""The application service: each command checks its arguments, loads, calls, saves.

The rules live on the aggregates (``model.py``, ``model_version.py``, ``artifact.py``,
``pipeline_run.py``), which raise the domain errors; argument checks live in ``names.py``,
``validation.py`` and ``stages.py``; the re-run after a lost race and the cache in
``retrying.py``. What stays here is the order of each command: the aggregates it loads
(refusing missing or deleted ones with the user's words), the aggregate method it calls,
and one ``save()`` of everything that changed (one database transaction). Commands return
the log position of their last event.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar, NamedTuple
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError
from eventsourcing.persistence import Mapper

from . import artifact, pipeline_run, stages
from .aliases import check_alias
from .artifact import Artifact, StoredValue
from .errors import (
    EntityExistsError,
    NotFoundError,
    ValidationError,
)
from .expected_holder import check_expected_holder
from .key_value_tags import check_key, check_value
from .model import Model, ModelName, model_name_id
from .model_version import ModelVersion
from .names import check_name, check_tags, check_version_name, is_ascii_digits, normalise_name
from .pipeline_run import PipelineRun
from .retrying import MAX_ATTEMPTS, RetryingApplication, command
from .serialization import OrjsonMapper
from .tokens import ApiToken, api_token_id
from .validation import check_fields, check_text, encode_metadata
from .version_names import VersionName, version_name_id
from .webhooks import Webhook

__all__ = ["MAX_ATTEMPTS", "Appended", "RecordedArtifact", "Registry", "StoredValue"]


class Appended(NamedTuple):
    """What a command that creates something returns."""

    id: UUID
    position: int


class RecordedArtifact(NamedTuple):
    """A new artifact version: its id, its number under the artifact's name, the position."""

    id: UUID
    number: int
    position: int


class Registry(RetryingApplication):
    """modelplane's write model: models, their versions and stages."""

    name = "modelplane"
    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {
        Model: 200,
        ModelVersion: 200,
        Artifact: 200,
        PipelineRun: 200,
    }
    env: ClassVar[dict[str, str]] = {
        "AGGREGATE_CACHE_MAXSIZE": "20000",
        "AGGREGATE_CACHE_FASTFORWARD": "n",
        "DEEPCOPY_FROM_AGGREGATE_CACHE": "n",
    }

    def construct_mapper(self) -> Mapper[UUID]:
        return OrjsonMapper(compressor=None, cipher=None)

    # ----------------------------------------------------------------- models

    @command
    def register_model(
        self, name: str, *, fields: dict[str, Any], tags: Iterable[str] | None, actor: str
    ) -> Appended:
        name = check_name(name, "model")
        clean_fields, clean_tags = check_fields(fields), check_tags(tags)
        # a name registered for the first time is the common case: not looked up at first
        index = self._name_entry(name, new_unless_cached=True)
        model = Model.register(index, fields=clean_fields, tags=clean_tags, actor=actor)
        return Appended(model.id, self._position(self.save(model, index)))

    @command
    def update_model(
        self,
        model_id: UUID,
        *,
        name: str | None = None,
        fields: dict[str, Any] | None = None,
        add_tags: Iterable[str] | None = None,
        remove_tags: Iterable[str] | None = None,
        actor: str,
    ) -> int | None:
        clean_fields = check_fields(fields or {})
        to_add, to_remove = check_tags(add_tags), check_tags(remove_tags)
        if name is not None:
            name = check_name(name, "model")
        model = self.live_model(model_id)
        rename = None
        if name is not None and name != model.name:
            rename = (self._name_entry(model.name), self._name_entry(name))
        changed = model.update(
            fields=clean_fields,
            add_tags=to_add,
            remove_tags=to_remove,
            rename=rename,
            actor=actor,
        )
        if not changed:
            return None
        return self._position(self.save(model, *(rename or ())))

    @command
    def delete_model(self, model_id: UUID, *, actor: str, reason: str | None = None) -> int:
        check_text(reason, "reason")
        model = self.live_model(model_id)
        index = self._name_entry(model.name)
        holders = [self._get(UUID(v)) for v in model.held_stages().values()]
        model.delete(index, holders=holders, actor=actor, reason=reason)
        return self._position(self.save(index, model))

    # --------------------------------------------------------------- versions

    @command
    def create_version(
        self,
        model_id: UUID,
        *,
        name: str | None = None,
        description: str | None = None,
        tags: Iterable[str] | None = None,
        source: str | None = None,
        run_id: str | None = None,
        run_link: str | None = None,
        actor: str,
    ) -> Appended:
        """``source``, ``run_id`` and ``run_link`` say where the version came from, as MLflow
        records it (the run is another system's, not a modelplane pipeline run)."""
        if name is not None:
            name = check_version_name(name)
        check_text(description, "description")
        for value, what in ((source, "source"), (run_id, "run id"), (run_link, "run link")):
            check_text(value, what)
        clean_tags = check_tags(tags)
        model = self.live_model(model_id)
        # a custom name used for the first time is the common case: not looked up at first
        entry = self._version_name_entry(model, name, new_unless_cached=True)
        version = model.add_version(
            name=name,
            name_entry=entry,
            description=description,
            tags=clean_tags,
            source=source,
            source_run_id=run_id,
            source_run_link=run_link,
            actor=actor,
        )
        return Appended(version.id, self._position(self.save(model, version, entry)))

    @command
    def update_version(
        self,
        version_id: UUID,
        *,
        name: str | None = None,
        description: str | None = None,
        add_tags: Iterable[str] | None = None,
        remove_tags: Iterable[str] | None = None,
        stage: object = None,
        force: bool = False,
        expected_holder: object = None,
        reason: str | None = None,
        actor: str,
    ) -> int | None:
        """Every change to one version as one command: all its events are appended, or none
        (``Model.update_version``). Returns None when nothing changed.

        ``expected_holder`` is checked by the model in this command, so the check and the
        promotion are one append: a writer that moved the stage in between makes the save
        conflict, and the re-run checks again; a refusal made on a cached model the log has
        moved past re-runs on the log's state (``RetryingApplication.run_command``)."""
        if name is not None:
            name = check_version_name(name)
        check_text(description, "description")
        check_text(reason, "reason")
        target = None if stage is None else stages.assignable_stage(stage)
        expected = check_expected_holder(expected_holder, target)
        to_add, to_remove = check_tags(add_tags), check_tags(remove_tags)
        model, version = self.live_version(version_id)
        holder_id = None if target is None else model.displaced_by(version, target)
        displaced = None if holder_id is None else self._get(UUID(holder_id))
        entries = None
        if name is not None and name != version.name and model.needs_name_entries:
            entries = (
                self._version_name_entry(model, version.name),
                self._version_name_entry(model, name, new_unless_cached=True),
            )
        changed = model.update_version(
            version,
            name=name,
            name_entries=entries,
            description=description,
            add_tags=to_add,
            remove_tags=to_remove,
            stage=target,
            displaced=displaced,
            force=force,
            expected_holder=expected,
            reason=reason,
            actor=actor,
        )
        if not changed:
            return None
        return self._position(self.save(model, version, displaced, *(entries or ())))

    def change_stage(
        self,
        version_id: UUID,
        stage: object,
        *,
        force: bool = False,
        expected_holder: object = None,
        reason: str | None = None,
        actor: str,
    ) -> int | None:
        """Move a version into a stage; with ``force`` the current holder is archived."""
        if stage is None:
            raise ValidationError("A stage is required.")
        return self.update_version(
            version_id,
            stage=stage,
            force=force,
            expected_holder=expected_holder,
            reason=reason,
            actor=actor,
        )

    @command
    def delete_version(self, version_id: UUID, *, actor: str, reason: str | None = None) -> int:
        check_text(reason, "reason")
        model, version = self.live_version(version_id)
        entry = self._version_name_entry(model, version.name)
        model.delete_version(version, name_entry=entry, actor=actor, reason=reason)
        return self._position(self.save(model, version, entry))

    @command
    def log_metadata(
        self,
        version_id: UUID,
        metadata: dict[str, Any],
        *,
        actor: str,
        run_id: UUID | None = None,
        step: str | None = None,
    ) -> int:
        clean = encode_metadata(metadata)
        _, version = self.live_version(version_id)
        version.log_metadata(clean, run_id=run_id, step=step, actor=actor)
        return self._position(self.save(version))

    # -------------------------------------------------- aliases, key-value tags

    @command
    def set_alias(
        self,
        model_id: UUID,
        version_id: UUID,
        alias: str,
        *,
        actor: str,
        reason: str | None = None,
    ) -> int | None:
        """Point ``alias`` at a version of the model, moving it from its holder: one event on
        the model, so the one-holder rule holds across processes (a concurrent move of the
        same model conflicts and re-runs). None when the version holds it already."""
        alias = check_alias(alias)
        check_text(reason, "reason")
        model, version = self.live_version(version_id)
        if model.id != model_id:
            msg = f"Version '{version.name}' is not a version of model {model_id}."
            raise NotFoundError(msg)
        if not model.set_alias(alias, version, actor=actor, reason=reason):
            return None
        return self._position(self.save(model))

    @command
    def remove_alias(
        self, model_id: UUID, alias: str, *, actor: str, reason: str | None = None
    ) -> int:
        alias = check_alias(alias)
        check_text(reason, "reason")
        model = self.live_model(model_id)
        model.remove_alias(alias, actor=actor, reason=reason)
        return self._position(self.save(model))

    @command
    def set_model_key_value_tag(
        self, model_id: UUID, key: str, value: str, *, actor: str
    ) -> int | None:
        """Set (add or replace) a key-value tag of a model; None when it had that value."""
        key = check_key(key)
        check_value(value, key)
        model = self.live_model(model_id)
        if not model.set_key_value_tag(key, value, actor=actor):
            return None
        return self._position(self.save(model))

    @command
    def delete_model_key_value_tag(self, model_id: UUID, key: str, *, actor: str) -> int:
        key = check_key(key)
        model = self.live_model(model_id)
        model.delete_key_value_tag(key, actor=actor)
        return self._position(self.save(model))

    @command
    def set_version_key_value_tag(
        self, version_id: UUID, key: str, value: str, *, actor: str
    ) -> int | None:
        """Set (add or replace) a key-value tag of a version; None when it had that value."""
        key = check_key(key)
        check_value(value, key)
        _, version = self.live_version(version_id)
        if not version.set_key_value_tag(key, value, actor=actor):
            return None
        return self._position(self.save(version))

    @command
    def delete_version_key_value_tag(self, version_id: UUID, key: str, *, actor: str) -> int:
        key = check_key(key)
        _, version = self.live_version(version_id)
        version.delete_key_value_tag(key, actor=actor)
        return self._position(self.save(version))

    # -------------------------------------------------------------- artifacts

    @command
    def record_artifact_version(
        self,
        name: str,
        *,
        stored: StoredValue,
        tags: Iterable[str] | None = None,
        run_id: UUID | None = None,
        step: str | None = None,
        link_to: UUID | None = None,
        link_kind: str = artifact.DATA,
        actor: str,
    ) -> RecordedArtifact:
        """Record a stored value as the next version of artifact ``name``.

        With ``link_to`` (a model version id), the link is appended in the same transaction:
        there is never a recorded output without its link, nor a link to a missing version.
        """
        name = check_name(name, "artifact")
        clean_tags = check_tags(tags)
        artifact.check_link_kind(link_kind)
        item: Artifact = self._get_or_none(artifact.artifact_id(name)) or Artifact(
            name=name, actor=actor
        )
        version_id, number = item.record_version(
            stored, run_id=run_id, step=step, tags=clean_tags, actor=actor
        )
        linked = None
        if link_to is not None:
            _, linked = self.live_version(link_to)
            linked.link_artifact(
                item,
                version_id,
                number=number,
                kind=link_kind,
                run_id=run_id,
                step=step,
                actor=actor,
            )
        return RecordedArtifact(version_id, number, self._position(self.save(item, linked)))

    @command
    def link_artifact(
        self,
        model_version_id: UUID,
        artifact_name: str,
        artifact_version_id: UUID,
        *,
        artifact_version_number: int,
        kind: str = artifact.DATA,
        run_id: UUID | None = None,
        step: str | None = None,
        actor: str,
    ) -> int | None:
        """Link an existing artifact version (its id and number) to a model version (a
        repeat is a no-op)."""
        artifact.check_link_kind(kind)
        item = self._artifact(artifact_name)
        number = artifact_version_number
        item.version_number(artifact_version_id, number)  # a missing one is reported first
        _, version = self.live_version(model_version_id)
        linked = version.link_artifact(
            item,
            artifact_version_id,
            number=number,
            kind=kind,
            run_id=run_id,
            step=step,
            actor=actor,
        )
        return self._position(self.save(version)) if linked else None

    @command
    def log_artifact_metadata(
        self,
        artifact_name: str,
        artifact_version_id: UUID,
        metadata: dict[str, Any],
        *,
        artifact_version_number: int,
        run_id: UUID | None = None,
        step: str | None = None,
        actor: str,
    ) -> int:
        clean = encode_metadata(metadata)
        item = self._artifact(artifact_name)
        item.log_metadata(
            artifact_version_id,
            clean,
            number=artifact_version_number,
            run_id=run_id,
            step=step,
            actor=actor,
        )
        return self._position(self.save(item))

    # ------------------------------------------------------------------- runs

    @command
    def start_run(
        self,
        name: str,
        *,
        pipeline: str,
        model_version_id: UUID | None = None,
        model_version_how: str | None = None,
        stage: str | None = None,
        parameters: dict[str, Any] | None = None,
        actor: str,
        run_id: UUID | None = None,
    ) -> Appended:
        """Start a run; ``run_id`` lets the caller fix the id up front.

        A pipeline needs its run's id before the run starts: a model version named
        ``run-{run.id[:8]}`` is created from it first. A taken id is refused.
        """
        name = check_name(name, "run")
        clean_parameters = encode_metadata(parameters or {}, allow_empty=True)
        pipeline_run.check_how(model_version_id, model_version_how)
        model_id = None
        if model_version_id is not None:
            model, _ = self.live_version(model_version_id)
            model_id = model.id
        # a run id is new in the common case: not looked up at first (a taken one conflicts)
        if run_id is not None and self._get_unless_new(run_id) is not None:
            raise EntityExistsError(f"A pipeline run with id '{run_id}' already exists.")
        run = PipelineRun.start(
            name=name,
            pipeline=pipeline,
            model_id=model_id,
            model_version_id=model_version_id,
            model_version_how=model_version_how,
            stage=stage,
            parameters=clean_parameters,
            actor=actor,
            run_id=run_id,
        )
        return Appended(run.id, self._position(self.save(run)))

    @command
    def finish_step(
        self,
        run_id: UUID,
        step: str,
        *,
        inputs: dict[str, UUID],
        outputs: dict[str, UUID],
        duration_ms: float,
        error: str | None = None,
    ) -> int:
        run = self._run(run_id)
        run.finish_step(step, inputs=inputs, outputs=outputs, duration_ms=duration_ms, error=error)
        return self._position(self.save(run))

    @command
    def finish_run(self, run_id: UUID, *, status: str, error: str | None = None, actor: str) -> int:
        """End a run (``completed`` or ``failed``); also how a stale run is marked failed."""
        pipeline_run.check_end_status(status)
        run = self._run(run_id)
        run.finish(status=status, error=error, actor=actor)
        return self._position(self.save(run))

    @command
    def log_run_metadata(
        self, run_id: UUID, metadata: dict[str, Any], *, step: str | None = None, actor: str
    ) -> int:
        clean = encode_metadata(metadata)
        run = self._run(run_id)
        run.log_metadata(clean, step=step, actor=actor)
        return self._position(self.save(run))

    # ----------------------------------------------------------------- tokens

    @command
    def issue_token(
        self, name: str, *, token_id: UUID, role: str, digest: str, actor: str
    ) -> Appended:
        """Issue API token ``token_id`` under ``name`` (a revoked name may be issued again).

        ``digest`` is the hex sha256 of the token's secret: the log never holds the secret.
        Returns the id of the name's ``ApiToken`` aggregate.
        """
        name = check_name(name, "token")
        # a name issued for the first time is the common case: not looked up at first
        current = self._get_unless_new(api_token_id(name), snapshotted=False)
        token = ApiToken.issue(
            current, name=name, token_id=token_id, role=role, digest=digest, actor=actor
        )
        return Appended(token.id, self._position(self.save(token)))

    @command
    def revoke_token(self, name: str, *, actor: str, reason: str | None = None) -> int:
        """Revoke the active token of ``name``; an unknown or revoked name is not found."""
        name = check_name(name, "token")
        check_text(reason, "reason")
        token = self._get_or_none(api_token_id(name), snapshotted=False)
        if not isinstance(token, ApiToken):
            raise NotFoundError(f"No token named '{name}' exists.")
        token.revoke(actor=actor, reason=reason)
        return self._position(self.save(token))

    # --------------------------------------------------------------- webhooks

    @command
    def register_webhook(
        self,
        webhook_id: UUID,
        *,
        url: str,
        events: Iterable[str],
        model: str | None,
        secret_sha256: str,
        actor: str,
    ) -> Appended:
        """Register webhook ``webhook_id`` (chosen by the caller, who stored its secret under
        it first); ``secret_sha256`` is the hex sha256 of that secret, never the secret."""
        # a new uuid4 in the common case: not looked up at first (a taken one conflicts)
        if self._get_unless_new(webhook_id, snapshotted=False) is not None:
            raise EntityExistsError(f"A webhook with id '{webhook_id}' already exists.")
        hook = Webhook.register(
            webhook_id=webhook_id,
            url=url,
            events=events,
            model=model,
            secret_sha256=secret_sha256,
            actor=actor,
        )
        return Appended(hook.id, self._position(self.save(hook)))

    @command
    def remove_webhook(self, webhook_id: UUID, *, actor: str, reason: str | None = None) -> int:
        """Remove a webhook: no later event is delivered to it."""
        hook = self._get_or_none(webhook_id, snapshotted=False)
        if not isinstance(hook, Webhook):
            raise NotFoundError(f"No webhook with id '{webhook_id}' exists.")
        hook.remove(actor=actor, reason=reason)
        return self._position(self.save(hook))

    # ---------------------------------------------------------------- loading

    def live_model(self, model_id: UUID) -> Model:
        try:
            model: Model = self._get(model_id)
        except AggregateNotFoundError:
            raise NotFoundError(f"No model with id '{model_id}' exists.") from None
        if not isinstance(model, Model):
            raise NotFoundError(f"No model with id '{model_id}' exists.")
        model.check_live()
        return model

    def live_version(self, version_id: UUID) -> tuple[Model, ModelVersion]:
        try:
            version: ModelVersion = self._get(version_id)
        except AggregateNotFoundError:
            raise NotFoundError(f"No model version with id '{version_id}' exists.") from None
        if not isinstance(version, ModelVersion):
            raise NotFoundError(f"No model version with id '{version_id}' exists.")
        model = self.live_model(UUID(version.model_id))
        model.check_version_live(version)
        return model, version

    def model_id_for_name(self, name: str) -> UUID | None:
        """The live model holding ``name`` now, from the authoritative index."""
        index = self._get_or_none(model_name_id(normalise_name(name)), snapshotted=False)
        if index is None or index.model_id is None:
            return None
        return UUID(index.model_id)

    def _name_entry(self, name: str, *, new_unless_cached: bool = False) -> ModelName:
        """The index entry of a model name; a new (unsaved) one if the name was never used.

        With ``new_unless_cached`` a first attempt does not look in the log (see
        ``RetryingApplication._get_unless_new``).
        """
        found = self._index_entry(model_name_id(normalise_name(name)), new_unless_cached)
        return found or ModelName(name=name)

    def _version_name_entry(
        self, model: Model, name: str | None, *, new_unless_cached: bool = False
    ) -> VersionName | None:
        """The index entry of a custom version name of ``model`` (a new, unsaved one if the
        name was never used); None for no name, a number, or a model that keeps its names."""
        if name is None or not model.needs_name_entries or is_ascii_digits(name):
            return None
        found = self._index_entry(version_name_id(model.id, name), new_unless_cached)
        return found or VersionName(model_id=str(model.id), name=name)

    def _index_entry(self, entry_id: UUID, new_unless_cached: bool) -> Any:
        """A saved index entry (never snapshotted), or None. With ``new_unless_cached`` a
        first attempt does not look in the log (``RetryingApplication._get_unless_new``)."""
        if new_unless_cached:
            return self._get_unless_new(entry_id, snapshotted=False)
        return self._get_or_none(entry_id, snapshotted=False)

    def _artifact(self, name: str) -> Artifact:
        item = self._get_or_none(artifact.artifact_id(normalise_name(name)))
        if not isinstance(item, Artifact):
            raise NotFoundError(f"No artifact named '{name}' exists.")
        return item

    def _run(self, run_id: UUID) -> PipelineRun:
        run = self._get_or_none(run_id)
        if not isinstance(run, PipelineRun):
            raise NotFoundError(f"No pipeline run with id '{run_id}' exists.")
        return run
