"""``Client``: the SDK's entry point to the registry, named and shaped like ZenML's."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

import orjson
from sqlalchemy import RowMapping

from modelplane.domain import stages
from modelplane.domain.errors import NotFoundError, ValidationError
from modelplane.domain.model_card import DESCRIPTIVE_FIELDS
from modelplane.domain.names import normalises_names
from modelplane.domain.validation import (
    check_int64,
    check_paging,
    decode_event_payload,
    decode_metadata,
)
from modelplane.domain.validation import decode_value as _decoded
from modelplane.projections import queries

from . import config
from .enums import ModelStages
from .options import CREATE_MODEL_IGNORED, check_options
from .responses import (
    ArtifactConsumer,
    ArtifactVersionResponse,
    LoggedEvent,
    MetadataEntry,
    MetadataValue,
    ModelResponse,
    ModelVersionResponse,
    Page,
    PipelineRunResponse,
    ReplayResult,
    StageChange,
    StepRunResponse,
)
from .store import Store

if TYPE_CHECKING:
    from .artifacts.store import ArtifactStore

#: The log table the eventsourcing library writes for the application named "modelplane".
EVENTS_TABLE = "modelplane_events"
DEFAULT_PAGE_SIZE = 50
_STAGES = {stage.value: stage for stage in ModelStages}


class Client:
    """Reads and writes the registry the environment points at (see ``modelplane.config``)."""

    def __init__(self) -> None:
        self._store = Store.current()
        self._artifacts: ArtifactStore | None = None

    # ------------------------------------------------------------------ models

    @normalises_names("name", "tags")
    def create_model(
        self,
        name: str,
        license: str | None = None,
        description: str | None = None,
        tags: Iterable[str] | None = None,
        audience: str | None = None,
        use_cases: str | None = None,
        limitations: str | None = None,
        trade_offs: str | None = None,
        ethics: str | None = None,
        **zenml_options: Any,
    ) -> ModelResponse:
        """Register a model; ZenML-only options (``save_models_to_registry``) are ignored with
        a warning, a misspelt keyword (``licence=``) is a ``TypeError``."""
        check_options("create_model", Client.create_model, zenml_options, CREATE_MODEL_IGNORED)
        fields = _descriptive_fields(locals())
        created = self._store.registry.register_model(
            name, fields=fields, tags=tags, actor=config.actor()
        )
        return self.get_model(created.id)

    @normalises_names("model_name_or_id")
    def get_model(self, model_name_or_id: str | UUID) -> ModelResponse:
        with self._store.read() as conn:
            row = queries.model_row(conn, model_name_or_id)
            latest = queries.latest_version_names(conn, [row["id"]])
        return _model(row, latest.get(row["id"]))

    @normalises_names("name", "tag")
    def list_models(
        self,
        name: str | None = None,
        tag: str | None = None,
        page: int = 1,
        size: int = DEFAULT_PAGE_SIZE,
    ) -> Page[ModelResponse]:
        """Live models, by name; ``name`` matches a substring, ``tag`` an exact tag."""
        _check_paging(page, size)
        with self._store.read() as conn:
            rows, total = queries.list_models(conn, name=name, tag=tag, page=page, size=size)
            latest = queries.latest_version_names(conn, [row["id"] for row in rows])
        return Page([_model(r, latest.get(r["id"])) for r in rows], total, page, size)

    @normalises_names("model_name_or_id", "name", "add_tags", "remove_tags")
    def update_model(
        self,
        model_name_or_id: str | UUID,
        name: str | None = None,
        license: str | None = None,
        description: str | None = None,
        audience: str | None = None,
        use_cases: str | None = None,
        limitations: str | None = None,
        trade_offs: str | None = None,
        ethics: str | None = None,
        add_tags: Iterable[str] | None = None,
        remove_tags: Iterable[str] | None = None,
    ) -> ModelResponse:
        model_id = self._model_id(model_name_or_id)
        fields = _descriptive_fields(locals())
        self._store.registry.update_model(
            model_id,
            name=name,
            fields={k: v for k, v in fields.items() if v is not None},
            add_tags=add_tags,
            remove_tags=remove_tags,
            actor=config.actor(),
        )
        return self.get_model(model_id)

    @normalises_names("model_name_or_id")
    def delete_model(self, model_name_or_id: str | UUID, reason: str | None = None) -> None:
        model_id = self._model_id(model_name_or_id)
        self._store.registry.delete_model(model_id, actor=config.actor(), reason=reason)

    # ---------------------------------------------------------------- versions

    @normalises_names("model_name_or_id", "name", "tags")
    def create_model_version(
        self,
        model_name_or_id: str | UUID,
        name: str | None = None,
        description: str | None = None,
        tags: Iterable[str] | None = None,
    ) -> ModelVersionResponse:
        model_id = self._model_id(model_name_or_id)
        created = self._store.registry.create_version(
            model_id, name=name, description=description, tags=tags, actor=config.actor()
        )
        return self._version_by_id(created.id)

    @normalises_names("model_name_or_id", "model_version_name_or_number_or_id")
    def get_model_version(
        self,
        model_name_or_id: str | UUID,
        model_version_name_or_number_or_id: str | int | UUID | ModelStages | None = None,
        at: datetime | int | None = None,
    ) -> ModelVersionResponse:
        """A version by name, number, id or stage (None/latest: the highest number).

        ``at`` (a datetime or a log position) answers as of that moment: which version held
        the stage then, in which stage the version was, and (through the returned object)
        its metadata and linked artifacts as they were then.
        """
        selector = model_version_name_or_number_or_id
        with self._store.read() as conn:
            if at is None:
                quick = queries.quick_version_row(conn, model_name_or_id, selector)
                if quick is not None:
                    return self._version(quick, quick["model_name"])
                model = queries.model_row(conn, model_name_or_id)
                row = queries.version_row(conn, model, selector)
                return self._version(row, model["name"])
            position = queries.position_at(conn, at)
            model = queries.model_row_at(conn, model_name_or_id, position)
            row, stage_then = queries.version_row_at(conn, model, selector, position)
            return self._version(row, model["name"], stage=stage_then, as_of=position)

    @normalises_names("model_name_or_id", "tag", "name")
    def list_model_versions(
        self,
        model_name_or_id: str | UUID,
        stage: ModelStages | str | None = None,
        tag: str | None = None,
        name: str | None = None,
        page: int = 1,
        size: int = DEFAULT_PAGE_SIZE,
    ) -> Page[ModelVersionResponse]:
        """Live versions of a model, newest first."""
        _check_paging(page, size)
        stage_filter = None if stage is None else _stage_filter(stage)
        with self._store.read() as conn:
            model = queries.model_row(conn, model_name_or_id)
            rows, total = queries.list_versions(
                conn, model, stage=stage_filter, tag=tag, name=name, page=page, size=size
            )
        model_id = UUID(model["id"])
        items = [self._version(r, model["name"], model_id=model_id) for r in rows]
        return Page(items, total, page, size)

    @normalises_names("model_name_or_id", "version_name_or_id", "name", "add_tags", "remove_tags")
    def update_model_version(
        self,
        model_name_or_id: str | UUID,
        version_name_or_id: str | int | UUID | ModelStages,
        stage: ModelStages | str | None = None,
        force: bool = False,
        reason: str | None = None,
        name: str | None = None,
        description: str | None = None,
        add_tags: Iterable[str] | None = None,
        remove_tags: Iterable[str] | None = None,
    ) -> ModelVersionResponse:
        version_id = self.get_model_version(model_name_or_id, version_name_or_id).id
        # One command: a rename, tags and a promotion are appended together or not at all.
        self._store.registry.update_version(
            version_id,
            name=name,
            description=description,
            add_tags=add_tags,
            remove_tags=remove_tags,
            stage=stage,
            force=force,
            reason=reason,
            actor=config.actor(),
        )
        return self._version_by_id(version_id)

    def delete_model_version(
        self, model_version_id: str | UUID, reason: str | None = None
    ) -> None:
        uid = queries.as_uuid(model_version_id)
        if uid is None:
            msg = f"'{model_version_id}' is not a model version id."
            raise NotFoundError(msg)
        self._store.registry.delete_version(uid, actor=config.actor(), reason=reason)

    # --------------------------------------------------------- history & audit

    @normalises_names("model_name_or_id")
    def get_stage_history(self, model_name_or_id: str | UUID) -> list[StageChange]:
        """Every stage change of every version of the model, oldest first.

        A name that was deleted and registered again returns the history of every life.
        """
        with self._store.read() as conn:
            model_ids = queries.model_ids_ever_named(conn, model_name_or_id)
            rows = queries.stage_history(conn, model_ids)
        return [
            StageChange(
                position=int(r["position"]),
                timestamp=r["timestamp"],
                model_id=UUID(r["model_id"]),
                version_id=UUID(r["version_id"]),
                version=r["version_name"],
                stage=_STAGES.get(r["stage"], r["stage"]),
                previous_stage=ModelStages(r["previous_stage"]),
                displaced_version=r["displaced_version_name"],
                actor=r["actor"],
                reason=r["reason"],
            )
            for r in rows
        ]

    @normalises_names("model")
    def list_events(
        self, model: str | UUID | None = None, after: int | None = None, limit: int = 100
    ) -> list[LoggedEvent]:
        """The raw log from a position on, optionally only one model's events (every life)."""
        if limit < 1:
            raise ValidationError("limit must be at least 1.")
        start = check_int64(after or 0, "log position")
        check_int64(limit, "limit")
        with self._store.read() as conn:
            if model is None:
                rows = queries.raw_events(conn, events_table=EVENTS_TABLE, after=start, limit=limit)
            else:
                ids = queries.model_ids_ever_named(conn, model)
                wanted = queries.event_positions(conn, ids, start, limit)
                rows = queries.raw_events(conn, events_table=EVENTS_TABLE, positions=wanted)
            index = queries.event_entries(conn, [row[0] for row in rows])
        events = []
        for position, originator_id, version, topic, state in rows:
            payload = decode_event_payload(orjson.loads(state))
            timestamp = datetime.fromisoformat(payload.pop("timestamp"))
            payload.pop("originator_topic", None)
            entry = index.get(position)
            events.append(
                LoggedEvent(
                    position=position,
                    type=topic.split(":", 1)[-1],
                    timestamp=timestamp,
                    actor=payload.get("actor"),
                    originator_id=originator_id,
                    originator_version=version,
                    model_id=UUID(entry["model_id"]) if entry and entry["model_id"] else None,
                    payload=payload,
                )
            )
        return events

    def rebuild_projections(
        self,
        until: int | datetime | None = None,
        into: str | Path | None = None,
        progress: Callable[[int, int], None] | None = None,
        overwrite: bool = False,
    ) -> ReplayResult:
        """Rebuild the read tables from the log (into a SQLite file, if ``into`` is given).

        ``into`` must be a new path, or a previous replay output with ``overwrite=True``.
        """
        from .replay import replay

        return replay(self._store, until=until, into=into, progress=progress, overwrite=overwrite)

    # ---------------------------------------------------- artifacts and runs

    @normalises_names("name_id_or_prefix", "version")
    def get_artifact_version(
        self, name_id_or_prefix: str | UUID, version: str | int | None = None
    ) -> ArtifactVersionResponse:
        """An artifact version by name (+ version number; None: the newest), by id, or (with
        no version) by an unambiguous id prefix."""
        with self._store.read() as conn:
            row = queries.artifact_version_row(conn, name_id_or_prefix, version)
        return self._artifact_response(row)

    @normalises_names("name")
    def list_artifact_versions(
        self, name: str | None = None, page: int = 1, size: int = DEFAULT_PAGE_SIZE
    ) -> Page[ArtifactVersionResponse]:
        """Artifact versions, newest first; ``name`` keeps one artifact's."""
        _check_paging(page, size)
        with self._store.read() as conn:
            rows, total = queries.list_artifact_versions(conn, name=name, page=page, size=size)
        return Page([self._artifact_response(r) for r in rows], total, page, size)

    @normalises_names("name_id_or_prefix")
    def get_pipeline_run(self, name_id_or_prefix: str | UUID) -> PipelineRunResponse:
        """A run by id, name (the newest of that name) or unambiguous id prefix (ZenML's order)."""
        with self._store.read() as conn:
            row = queries.run_row(conn, name_id_or_prefix)
        return self._run_response(row)

    @normalises_names("model")
    def list_pipeline_runs(
        self,
        model: str | UUID | None = None,
        status: str | None = None,
        model_version_id: str | UUID | None = None,
        page: int = 1,
        size: int = DEFAULT_PAGE_SIZE,
    ) -> Page[PipelineRunResponse]:
        """Runs, newest first: of a model (every life of its name), a version, a status."""
        _check_paging(page, size)
        with self._store.read() as conn:
            model_ids = None if model is None else queries.model_ids_ever_named(conn, model)
            rows, total = queries.list_runs(
                conn,
                model_ids=model_ids,
                model_version_id=None if model_version_id is None else str(model_version_id),
                status=status,
                page=page,
                size=size,
            )
        return Page([self._run_response(r) for r in rows], total, page, size)

    # ----------------------------------------------------------------- helpers

    @property
    def artifact_store(self) -> ArtifactStore:
        """The folder artifacts are stored in (under ``MODELPLANE_HOME``)."""
        if self._artifacts is None:
            from .artifacts.store import ArtifactStore

            self._artifacts = ArtifactStore()
        return self._artifacts

    def _load_artifact(self, artifact: ArtifactVersionResponse) -> Any:
        from .artifacts.store import StoredArtifact

        stored = StoredArtifact(
            uri=artifact.uri,
            content_hash=artifact.content_hash,
            materializer=artifact.materializer,
            data_type=artifact.data_type,
            artifact_type=artifact.artifact_type,
            size_bytes=artifact.size_bytes,
        )
        label = f"artifact {artifact.name} version {artifact.number}"
        return self.artifact_store.load(stored, label=label)

    def _artifact_response(self, row: RowMapping) -> ArtifactVersionResponse:
        return ArtifactVersionResponse(
            id=UUID(row["id"]),
            name=row["name"],
            number=int(row["number"]),
            uri=row["uri"],
            content_hash=row["content_hash"],
            materializer=row["materializer"],
            data_type=row["data_type"],
            artifact_type=row["artifact_type"],
            size_bytes=int(row["size_bytes"]),
            producer_run_id=UUID(row["run_id"]) if row["run_id"] else None,
            producer_step=row["step"],
            tags=list(row["tags"]),
            warnings=list(row["warnings"]),
            created=row["created"],
            user=row["created_by"],
            _client=self,
        )

    def _run_response(self, row: RowMapping) -> PipelineRunResponse:
        return PipelineRunResponse(
            id=UUID(row["id"]),
            name=row["name"],
            pipeline=row["pipeline"],
            status=row["status"],
            model_id=UUID(row["model_id"]) if row["model_id"] else None,
            model_version_id=UUID(row["model_version_id"]) if row["model_version_id"] else None,
            model_version_how=row["model_version_how"],
            stage=row["stage"],
            parameters=decode_metadata(row["parameters"]),
            error=row["error"],
            started=row["started"],
            finished=row["finished"],
            user=row["created_by"],
            updated=row["updated"],
            stale=row["status"] == "running"
            and (datetime.now(UTC) - row["updated"]).total_seconds() > config.stale_run_seconds(),
            _client=self,
        )

    def _linked_artifacts(
        self, version_id: UUID, kind: str | None, until: int | None = None
    ) -> dict[str, dict[str, ArtifactVersionResponse]]:
        with self._store.read() as conn:
            rows = queries.artifact_links_of(conn, str(version_id), until)
        linked: dict[str, dict[str, ArtifactVersionResponse]] = {}
        for row in rows:
            if kind is None or row["link_kind"] == kind:
                response = self._artifact_response(row)
                linked.setdefault(response.name, {})[response.version] = response
        return linked

    def _consumers_of(self, artifact_version_id: UUID) -> list[ArtifactConsumer]:
        with self._store.read() as conn:
            rows = queries.consumers_of(conn, str(artifact_version_id))
        return [
            ArtifactConsumer(UUID(r["run_id"]), r["step"], r["input_name"], int(r["position"]))
            for r in rows
        ]

    def _consuming_runs(self, version_id: UUID) -> list[PipelineRunResponse]:
        with self._store.read() as conn:
            rows = queries.runs_consuming_version(conn, str(version_id))
        return [self._run_response(r) for r in rows]

    def _steps_of(self, run_id: UUID) -> dict[str, StepRunResponse]:
        with self._store.read() as conn:
            rows = queries.run_steps_of(conn, str(run_id))
        return {
            r["step"]: StepRunResponse(
                name=r["step"],
                status=r["status"],
                inputs={k: UUID(v) for k, v in r["inputs"].items()},
                outputs={k: UUID(v) for k, v in r["outputs"].items()},
                duration_ms=float(r["duration_ms"]),
                error=r["error"],
                finished=r["finished"],
            )
            for r in rows
        }

    def _model_id(self, model_name_or_id: str | UUID) -> UUID:
        with self._store.read() as conn:
            return UUID(queries.model_row(conn, model_name_or_id)["id"])

    def _version_by_id(
        self, version_id: UUID | str, *, deleted_ok: bool = False
    ) -> ModelVersionResponse:
        with self._store.read() as conn:
            row = queries.version_with_model_name(conn, version_id, deleted_ok=deleted_ok)
        return self._version(row, row["model_name"])

    def _version(
        self,
        row: RowMapping,
        model_name: str,
        stage: str | None = None,
        model_id: UUID | None = None,
        as_of: int | None = None,
    ) -> ModelVersionResponse:
        return ModelVersionResponse(
            id=UUID(row["id"]),
            name=row["name"],
            number=row["number"],
            stage=_STAGES[stage or row["stage"]],
            description=row["description"],
            tags=list(row["tags"]),
            created=row["created"],
            updated=row["updated"],
            user=row["created_by"],
            model_id=model_id or UUID(row["model_id"]),
            model_name=model_name,
            _client=self,
            as_of=as_of,
        )

    def _metadata_of(self, version_id: UUID, until: int | None = None) -> dict[str, MetadataValue]:
        with self._store.read() as conn:
            history = queries.metadata_history(conn, str(version_id), until)
        return {
            key: MetadataValue(
                key,
                [
                    MetadataEntry(
                        _decoded(r["value"]),
                        r["timestamp"],
                        r["actor"],
                        int(r["position"]),
                        UUID(r["run_id"]) if r["run_id"] else None,
                        r["step"],
                    )
                    for r in rows
                ],
            )
            for key, rows in history.items()
        }


def _descriptive_fields(arguments: dict[str, Any]) -> dict[str, Any]:
    """The model card fields among a method's arguments (``create_model``, ``update_model``)."""
    return {field: arguments[field] for field in DESCRIPTIVE_FIELDS}


def _model(row: RowMapping, latest_version_name: str | None) -> ModelResponse:
    return ModelResponse(
        id=UUID(row["id"]),
        name=row["name"],
        license=row["license"],
        description=row["description"],
        audience=row["audience"],
        use_cases=row["use_cases"],
        limitations=row["limitations"],
        trade_offs=row["trade_offs"],
        ethics=row["ethics"],
        tags=list(row["tags"]),
        created=row["created"],
        updated=row["updated"],
        user=row["created_by"],
        latest_version_name=latest_version_name,
        deleted=bool(row["deleted"]),
    )


def _stage_filter(stage: ModelStages | str) -> str:
    value = str(getattr(stage, "value", stage)).lower()
    if value not in stages.ASSIGNABLE:
        msg = f"'{stage}' is not a stage to filter by; use one of: {', '.join(stages.ASSIGNABLE)}."
        raise ValidationError(msg)
    return value


def _check_paging(page: int, size: int) -> None:
    check_paging(page, size)  # ints >= 1 whose offset fits 64 bits
