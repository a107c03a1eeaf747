"""The application service: takes commands, checks invariants, appends events.

Every command loads the aggregates it touches, validates before triggering any event, and
saves all of them in one ``save()`` (one database transaction). A lost optimistic-concurrency
race (``IntegrityError``: another writer appended to the same aggregate first) re-runs the
whole command on fresh state, so an invariant is checked against what is really in the log.
Commands return the log position of their last event.

Aggregates are cached in-process and served without a database round trip (no deepcopy,
no fast-forward): a stale copy cannot do harm, because a command that saves it conflicts
with the newer events and is re-run on fresh state. Commands run one at a time per process
(the database serialises appends anyway), and every aggregate a failed attempt touched is
evicted so no half-applied change survives in the cache.
"""

from __future__ import annotations

import contextlib
import random
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, ClassVar, NamedTuple, Protocol, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, Mapper, OperationalError, Recording

from . import artifact, pipeline_run, stages
from .artifact import Artifact
from .errors import (
    ConcurrencyError,
    EntityDeletedError,
    EntityExistsError,
    NotFoundError,
    RunEndedError,
    StageOccupiedError,
    ValidationError,
)
from .model import Model, ModelName, model_name_id
from .model_version import ModelVersion
from .names import check_name, check_tags, check_version_name, normalise_name
from .pipeline_run import PipelineRun
from .serialization import OrjsonMapper
from .validation import check_fields as _check_fields
from .validation import check_text as _check_text
from .validation import encode_metadata as _clean_metadata

T = TypeVar("T")

#: How often a command is re-run after losing a race before giving up.
MAX_ATTEMPTS = 50


class Appended(NamedTuple):
    """What a command that creates something returns."""

    id: UUID
    position: int


class RecordedArtifact(NamedTuple):
    """A new artifact version: its id, its number under the artifact's name, the position."""

    id: UUID
    number: int
    position: int


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


class Registry(Application[UUID]):
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

    def __init__(self, env: dict[str, str] | None = None) -> None:
        super().__init__(env)
        self._command_lock = threading.RLock()
        self._touched: set[UUID] = set()

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        for obj in objs:
            if obj is not None and hasattr(obj, "id"):
                self._touched.add(obj.id)
        return super().save(*objs, **kwargs)

    def _get(self, aggregate_id: UUID) -> Any:
        """Get an aggregate for a command, remembering it in case the command fails."""
        self._touched.add(aggregate_id)
        return self.repository.get(aggregate_id)

    def _retrying(self, command: Callable[[], T]) -> T:
        """Run a command; re-run it after a lost optimistic-concurrency race or a busy database."""
        with self._command_lock:
            for attempt in range(MAX_ATTEMPTS):
                self._touched.clear()
                try:
                    return command()
                except (IntegrityError, OperationalError):
                    self._evict_touched()
                    if attempt == MAX_ATTEMPTS - 1:
                        break
                    time.sleep(random.uniform(0, 0.002 * (attempt + 1)))
                except BaseException:
                    self._evict_touched()
                    raise
        msg = f"The command lost {MAX_ATTEMPTS} concurrent-write races in a row; try again."
        raise ConcurrencyError(msg)

    def _evict_touched(self) -> None:
        cache = self.repository.cache
        if cache is None:
            return
        for aggregate_id in self._touched:
            with contextlib.suppress(KeyError):
                cache.get(aggregate_id, evict=True)

    def construct_mapper(self) -> Mapper[UUID]:
        return OrjsonMapper(compressor=None, cipher=None)

    # ----------------------------------------------------------------- models

    def register_model(
        self, name: str, *, fields: dict[str, Any], tags: Iterable[str] | None, actor: str
    ) -> Appended:
        name = check_name(name, "model")
        clean_fields = _check_fields(fields)
        clean_tags = check_tags(tags)

        def attempt() -> Appended:
            index = self._name_index(name)
            if index is None:
                index = ModelName(name=name)
            elif index.model_id is not None:
                msg = f"Unable to register model '{name}': a model with that name already exists."
                raise EntityExistsError(msg)
            model = Model(name=name, fields=clean_fields, tags=clean_tags, actor=actor)
            index.claim(str(model.id))
            return Appended(model.id, self._position(self.save(model, index)))

        return self._retrying(attempt)

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
        clean_fields = _check_fields(fields or {})
        to_add = check_tags(add_tags)
        to_remove = check_tags(remove_tags)
        if name is not None:
            name = check_name(name, "model")

        def attempt() -> int | None:
            model = self.live_model(model_id)
            changes = {k: v for k, v in clean_fields.items() if model.fields.get(k) != v}
            tags = [t for t in model.tags if t not in to_remove]
            tags += [t for t in to_add if t not in tags]
            if tags != model.tags:
                changes["tags"] = tags
            touched: list[Any] = [model]
            if name is not None and name != model.name:
                new_index = self._name_index(name) or ModelName(name=name)
                if new_index.model_id is not None:
                    msg = f"Unable to rename model '{model.name}' to '{name}': that name is taken."
                    raise EntityExistsError(msg)
                old_index = self._name_index(model.name)
                assert old_index is not None
                old_index.release(str(model.id))
                new_index.claim(str(model.id))
                changes["name"] = name
                touched += [old_index, new_index]
            if not changes:
                return None
            model._update(changes=changes, actor=actor)
            return self._position(self.save(*touched))

        return self._retrying(attempt)

    def delete_model(self, model_id: UUID, *, actor: str, reason: str | None = None) -> int:
        _check_text(reason, "reason")

        def attempt() -> int:
            model = self.live_model(model_id)
            index = self._name_index(model.name)
            assert index is not None
            holders = []
            for stage in stages.EXCLUSIVE:
                holder_id = model.holder(stage)
                if holder_id is not None:
                    holder: ModelVersion = self._get(UUID(holder_id))
                    holders.append(
                        {"stage": stage, "version_id": holder_id, "version_name": holder.name}
                    )
            model._delete(actor=actor, reason=reason, holders=holders)
            index.release(str(model.id))
            return self._position(self.save(index, model))

        return self._retrying(attempt)

    # --------------------------------------------------------------- versions

    def create_version(
        self,
        model_id: UUID,
        *,
        name: str | None = None,
        description: str | None = None,
        tags: Iterable[str] | None = None,
        actor: str,
    ) -> Appended:
        if name is not None:
            name = check_version_name(name)
        _check_text(description, "description")
        clean_tags = check_tags(tags)

        def attempt() -> Appended:
            model = self.live_model(model_id)
            number = model.last_number + 1
            version_name = str(number) if name is None else name
            if version_name in model.custom_names:
                msg = (
                    f"Unable to create model version {model.name} (version {version_name}): "
                    "a version with the same name already exists."
                )
                raise EntityExistsError(msg)
            version = ModelVersion(
                model_id=str(model.id),
                number=number,
                name=version_name,
                description=description,
                tags=clean_tags,
                actor=actor,
            )
            model._add_version(
                version_id=str(version.id), number=number, name=version_name, actor=actor
            )
            return Appended(version.id, self._position(self.save(model, version)))

        return self._retrying(attempt)

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
        reason: str | None = None,
        actor: str,
    ) -> int | None:
        """Every change to one version as one command: all its events are appended, or none.

        A rename and a promotion asked for together are checked together (the new name is
        free, the stage is free or ``force`` is given) before any event is triggered, so a
        refused promotion leaves the name as it was. Returns None when nothing changed.
        """
        if name is not None:
            name = check_version_name(name)
        _check_text(description, "description")
        _check_text(reason, "reason")
        target = None if stage is None else stages.assignable_stage(stage)
        to_add = check_tags(add_tags)
        to_remove = check_tags(remove_tags)

        def attempt() -> int | None:
            model, version = self.live_version(version_id)
            new_name = name if name is not None and name != version.name else None
            if new_name is not None and new_name in model.custom_names:
                msg = f"Model '{model.name}' already has a version named '{new_name}'."
                raise EntityExistsError(msg)
            shown_name = new_name or version.name
            displaced: ModelVersion | None = None
            current = model.stage_of.get(str(version.id), stages.NONE)
            promote = target is not None and target != current
            if promote and target in stages.EXCLUSIVE:
                holder_id = model.holder(target)  # type: ignore[arg-type]
                if holder_id is not None:
                    displaced = self._get(UUID(holder_id))
                    if not force:
                        msg = (
                            f"Model version '{displaced.name}' of model '{model.name}' is in "
                            f"{target}; promoting version '{shown_name}' needs force=True, "
                            f"which moves '{displaced.name}' to archived."
                        )
                        raise StageOccupiedError(msg, stage=str(target), holder=displaced.name)
            changes: dict[str, Any] = {}
            if description is not None and description != version.description:
                changes["description"] = description
            tags = [t for t in version.tags if t not in to_remove]
            tags += [t for t in to_add if t not in tags]
            if tags != version.tags:
                changes["tags"] = tags
            if new_name is not None:
                changes["name"] = new_name
            if not changes and not promote:
                return None
            # Everything is checked: trigger the events.
            touched: list[Any] = []
            if new_name is not None:
                model._rename_version(
                    version_id=str(version.id),
                    old_name=version.name,
                    new_name=new_name,
                    actor=actor,
                )
            if changes:
                version._update(model_id=version.model_id, changes=changes, actor=actor)
                touched.append(version)
            if promote:
                assert target is not None
                self._move_to_stage(model, version, target, current, displaced, reason, actor)
            if new_name is not None or promote:
                touched.append(model)
            return self._position(self.save(*touched))

        return self._retrying(attempt)

    @staticmethod
    def _move_to_stage(
        model: Model,
        version: ModelVersion,
        target: str,
        current: str,
        displaced: ModelVersion | None,
        reason: str | None,
        actor: str,
    ) -> None:
        """Trigger a checked promotion: the displaced holder's move to archived, then the move."""
        if displaced is not None:
            why = f"displaced from {target} by version '{version.name}'"
            model._change_stage(
                version_id=str(displaced.id),
                version_name=displaced.name,
                stage=stages.ARCHIVED,
                previous_stage=target,
                displaced_version_id=None,
                displaced_version_name=None,
                actor=actor,
                reason=f"{why}: {reason}" if reason else why,
            )
        model._change_stage(
            version_id=str(version.id),
            version_name=version.name,
            stage=target,
            previous_stage=current,
            displaced_version_id=str(displaced.id) if displaced else None,
            displaced_version_name=displaced.name if displaced else None,
            actor=actor,
            reason=reason,
        )

    def change_stage(
        self,
        version_id: UUID,
        stage: object,
        *,
        force: bool = False,
        reason: str | None = None,
        actor: str,
    ) -> int | None:
        """Move a version into a stage; with ``force`` the current holder is archived."""
        if stage is None:
            raise ValidationError("A stage is required.")
        return self.update_version(version_id, stage=stage, force=force, reason=reason, actor=actor)

    def delete_version(self, version_id: UUID, *, actor: str, reason: str | None = None) -> int:
        _check_text(reason, "reason")

        def attempt() -> int:
            model, version = self.live_version(version_id)
            vid = str(version.id)
            model._delete_version(
                version_id=vid,
                version_name=version.name,
                stage=model.stage_of.get(vid, stages.NONE),
                actor=actor,
                reason=reason,
            )
            version._delete(model_id=version.model_id, actor=actor)
            return self._position(self.save(model, version))

        return self._retrying(attempt)

    def log_metadata(
        self,
        version_id: UUID,
        metadata: dict[str, Any],
        *,
        actor: str,
        run_id: UUID | None = None,
        step: str | None = None,
    ) -> int:
        clean = _clean_metadata(metadata)

        def attempt() -> int:
            _, version = self.live_version(version_id)
            version._log_metadata(
                model_id=version.model_id,
                metadata=clean,
                run_id=None if run_id is None else str(run_id),
                step=step,
                actor=actor,
            )
            return self._position(self.save(version))

        return self._retrying(attempt)

    # -------------------------------------------------------------- artifacts

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
        if link_kind not in artifact.LINK_KINDS:
            msg = f"'{link_kind}' is not a link kind; use one of: {', '.join(artifact.LINK_KINDS)}."
            raise ValidationError(msg)

        def attempt() -> RecordedArtifact:
            found: Artifact | None = self._get_or_none(artifact.artifact_id(name))
            item = found or Artifact(name=name, actor=actor)
            number = item.last_number + 1
            version_id = uuid4()
            item._record_version(
                name=name,
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
                tags=clean_tags,
                warnings=list(stored.warnings),
                actor=actor,
            )
            touched: list[Any] = [item]
            if link_to is not None:
                _, version = self.live_version(link_to)
                version._link_artifact(
                    model_id=version.model_id,
                    artifact_id=str(item.id),
                    artifact_name=name,
                    artifact_version_id=str(version_id),
                    artifact_version_number=number,
                    kind=link_kind,
                    run_id=None if run_id is None else str(run_id),
                    step=step,
                    actor=actor,
                )
                touched.append(version)
            return RecordedArtifact(version_id, number, self._position(self.save(*touched)))

        return self._retrying(attempt)

    def link_artifact(
        self,
        model_version_id: UUID,
        artifact_name: str,
        artifact_version_id: UUID,
        *,
        kind: str = artifact.DATA,
        run_id: UUID | None = None,
        step: str | None = None,
        actor: str,
    ) -> int | None:
        """Link an existing artifact version to a model version (a repeat is a no-op)."""
        if kind not in artifact.LINK_KINDS:
            msg = f"'{kind}' is not a link kind; use one of: {', '.join(artifact.LINK_KINDS)}."
            raise ValidationError(msg)

        def attempt() -> int | None:
            item = self._artifact(artifact_name)
            number = item.numbers.get(str(artifact_version_id))
            if number is None:
                msg = f"Artifact '{artifact_name}' has no version with id '{artifact_version_id}'."
                raise NotFoundError(msg)
            _, version = self.live_version(model_version_id)
            if version.links.get(str(artifact_version_id)) == kind:
                return None
            version._link_artifact(
                model_id=version.model_id,
                artifact_id=str(item.id),
                artifact_name=item.name,
                artifact_version_id=str(artifact_version_id),
                artifact_version_number=number,
                kind=kind,
                run_id=None if run_id is None else str(run_id),
                step=step,
                actor=actor,
            )
            return self._position(self.save(version))

        return self._retrying(attempt)

    def log_artifact_metadata(
        self,
        artifact_name: str,
        artifact_version_id: UUID,
        metadata: dict[str, Any],
        *,
        run_id: UUID | None = None,
        step: str | None = None,
        actor: str,
    ) -> int:
        clean = _clean_metadata(metadata)

        def attempt() -> int:
            item = self._artifact(artifact_name)
            if str(artifact_version_id) not in item.numbers:
                msg = f"Artifact '{artifact_name}' has no version with id '{artifact_version_id}'."
                raise NotFoundError(msg)
            item._log_metadata(
                version_id=str(artifact_version_id),
                metadata=clean,
                run_id=None if run_id is None else str(run_id),
                step=step,
                actor=actor,
            )
            return self._position(self.save(item))

        return self._retrying(attempt)

    # ------------------------------------------------------------------- runs

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
        clean_parameters = _clean_metadata(parameters or {}, allow_empty=True)
        if model_version_id is not None and model_version_how not in pipeline_run.HOWS:
            msg = f"model_version_how must be one of {', '.join(pipeline_run.HOWS)}."
            raise ValidationError(msg)

        def attempt() -> Appended:
            model_id = None
            if model_version_id is not None:
                model, _ = self.live_version(model_version_id)
                model_id = str(model.id)
            if run_id is not None and self._get_or_none(run_id) is not None:
                raise EntityExistsError(f"A pipeline run with id '{run_id}' already exists.")
            run = PipelineRun._create(
                PipelineRun.Started,
                id=run_id,
                name=name,
                pipeline=pipeline,
                model_id=model_id,
                model_version_id=None if model_version_id is None else str(model_version_id),
                model_version_how=model_version_how if model_version_id is not None else None,
                stage=stage,
                parameters=clean_parameters,
                actor=actor,
            )
            return Appended(run.id, self._position(self.save(run)))

        return self._retrying(attempt)

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
        def attempt() -> int:
            run = self._live_run(run_id)
            run._finish_step(
                step=step,
                status=pipeline_run.FAILED if error else pipeline_run.COMPLETED,
                inputs={k: str(v) for k, v in inputs.items()},
                outputs={k: str(v) for k, v in outputs.items()},
                duration_ms=float(duration_ms),
                error=error,
            )
            return self._position(self.save(run))

        return self._retrying(attempt)

    def finish_run(self, run_id: UUID, *, status: str, error: str | None = None, actor: str) -> int:
        """End a run (``completed`` or ``failed``); also how a stale run is marked failed."""
        if status not in (pipeline_run.COMPLETED, pipeline_run.FAILED):
            msg = f"A run ends as completed or failed, not '{status}'."
            raise ValidationError(msg)

        def attempt() -> int:
            run = self._live_run(run_id)
            run._finish(status=status, error=error, actor=actor)
            return self._position(self.save(run))

        return self._retrying(attempt)

    def log_run_metadata(
        self, run_id: UUID, metadata: dict[str, Any], *, step: str | None = None, actor: str
    ) -> int:
        clean = _clean_metadata(metadata)

        def attempt() -> int:
            run = self._get_or_none(run_id)
            if not isinstance(run, PipelineRun):
                raise NotFoundError(f"No pipeline run with id '{run_id}' exists.")
            run._log_metadata(step=step, metadata=clean, actor=actor)
            return self._position(self.save(run))

        return self._retrying(attempt)

    # ---------------------------------------------------------------- queries

    def live_model(self, model_id: UUID) -> Model:
        try:
            model: Model = self._get(model_id)
        except AggregateNotFoundError:
            raise NotFoundError(f"No model with id '{model_id}' exists.") from None
        if not isinstance(model, Model):
            raise NotFoundError(f"No model with id '{model_id}' exists.")
        if model.deleted:
            raise EntityDeletedError(f"Model '{model.name}' ({model_id}) was deleted.")
        return model

    def live_version(self, version_id: UUID) -> tuple[Model, ModelVersion]:
        try:
            version: ModelVersion = self._get(version_id)
        except AggregateNotFoundError:
            raise NotFoundError(f"No model version with id '{version_id}' exists.") from None
        if not isinstance(version, ModelVersion):
            raise NotFoundError(f"No model version with id '{version_id}' exists.")
        model = self.live_model(UUID(version.model_id))
        if version.deleted:
            msg = f"Version '{version.name}' of model '{model.name}' was deleted."
            raise EntityDeletedError(msg)
        return model, version

    def _get_or_none(self, aggregate_id: UUID) -> Any:
        try:
            return self._get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def _artifact(self, name: str) -> Artifact:
        item = self._get_or_none(artifact.artifact_id(normalise_name(name)))
        if not isinstance(item, Artifact):
            raise NotFoundError(f"No artifact named '{name}' exists.")
        return item

    def _live_run(self, run_id: UUID) -> PipelineRun:
        run = self._get_or_none(run_id)
        if not isinstance(run, PipelineRun):
            raise NotFoundError(f"No pipeline run with id '{run_id}' exists.")
        if run.status != pipeline_run.RUNNING:
            msg = f"Pipeline run '{run.name}' already ended ({run.status})."
            # a snapshot taken before runs kept their error has none
            raise RunEndedError(msg, status=run.status, error=getattr(run, "error", None))
        return run

    def model_id_for_name(self, name: str) -> UUID | None:
        """The live model holding ``name`` now, from the authoritative index."""
        index = self._name_index(name)
        if index is None or index.model_id is None:
            return None
        return UUID(index.model_id)

    def _name_index(self, name: str) -> ModelName | None:
        try:
            index: ModelName = self._get(model_name_id(normalise_name(name)))
        except AggregateNotFoundError:
            return None
        return index

    @staticmethod
    def _position(recordings: list[Recording[UUID]]) -> int:
        return int(recordings[-1].notification.id)

