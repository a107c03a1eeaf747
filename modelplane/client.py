"""``Client``: the SDK's entry point to the registry, named and shaped like ZenML's."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

import orjson

from modelplane.domain import stages
from modelplane.domain.errors import NotFoundError, ValidationError
from modelplane.domain.model_card import DESCRIPTIVE_FIELDS
from modelplane.domain.names import normalises_names
from modelplane.domain.stages import selected_stage
from modelplane.domain.validation import (
    check_int64,
    check_paging,
    decode_event_payload,
    decode_metadata,
)
from modelplane.domain.validation import decode_value as _decoded

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
from .store_handle import Store

if TYPE_CHECKING:
    from sqlalchemy import RowMapping

    from modelplane.projections.queries.paging import PageRows, Paging

    from .artifacts.content_store import ArtifactStore

#: The log table the eventsourcing library writes for the application named "modelplane".
EVENTS_TABLE = "modelplane_events"
DEFAULT_PAGE_SIZE = 50
T = TypeVar("T")
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
        from modelplane.projections.queries.models import model_row

        with self._store.read() as conn:
            row = model_row(conn, model_name_or_id)
        return _model(row)

    @normalises_names("name", "tag")
    def list_models(
        self,
        name: str | None = None,
        tag: str | None = None,
        page: int = 1,
        size: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[ModelResponse]:
        """Live models, by name; ``name`` matches a substring, ``tag`` an exact tag.

        ``cursor`` (a previous page's ``next_cursor``) continues from where that page ended,
        with the same filters; ``page`` counts pages from the first instead.
        """
        from modelplane.projections.queries.models import list_models

        paging = _paging(page, size, cursor)
        with self._store.read() as conn:
            found = list_models(conn, name=name, tag=tag, paging=paging)
        return self._page(found, [_model(r) for r in found.rows], size)

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
        from modelplane.projections.queries.models import model_row
        from modelplane.projections.queries.time_travel import (
            model_row_at,
            position_at,
            version_row_at,
        )
        from modelplane.projections.queries.versions import quick_version_row, version_row

        selector = model_version_name_or_number_or_id
        with self._store.read() as conn:
            if at is None:
                quick = quick_version_row(conn, model_name_or_id, selector)
                if quick is not None:
                    return self._version(quick, quick["model_name"])
                model = model_row(conn, model_name_or_id)
                row = version_row(conn, model, selector)
                return self._version(row, model["name"])
            position = position_at(conn, at)
            model = model_row_at(conn, model_name_or_id, position)
            row, stage_then = version_row_at(conn, model, selector, position)
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
        cursor: str | None = None,
    ) -> Page[ModelVersionResponse]:
        """Live versions of a model, newest first (``cursor``: as in ``list_models``)."""
        from modelplane.projections.queries.models import model_row
        from modelplane.projections.queries.versions import list_versions

        paging = _paging(page, size, cursor)
        stage_filter = None if stage is None else _stage_filter(stage)
        with self._store.read() as conn:
            model = model_row(conn, model_name_or_id)
            found = list_versions(
                conn, model, stage=stage_filter, tag=tag, name=name, paging=paging
            )
        model_id = UUID(model["id"])
        items = [self._version(r, model["name"], model_id=model_id) for r in found.rows]
        return self._page(found, items, size)

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

    def delete_model_version(self, model_version_id: str | UUID, reason: str | None = None) -> None:
        from modelplane.projections.queries.ids import as_uuid

        uid = as_uuid(model_version_id)
        if uid is None:
            msg = f"'{model_version_id}' is not a model version id."
            raise NotFoundError(msg)
        self._store.registry.delete_version(uid, actor=config.actor(), reason=reason)

    # --------------------------------------------------------- history & audit

    @normalises_names("model_name_or_id")
    def get_stage_history(
        self,
        model_name_or_id: str | UUID,
        after: int | None = None,
        limit: int | None = None,
    ) -> list[StageChange]:
        """Every stage change of every version of the model, oldest first.

        A name that was deleted and registered again returns the history of every life.
        ``after`` (a log position) and ``limit`` read it a page at a time: the changes after
        that position, at most ``limit`` of them (one more when a model's deletion released
        both stages at the page's last position, so a position is never split); the next
        page is ``after=`` the last change's ``position``. Without them, the whole history.
        """
        from modelplane.projections.queries.models import model_ids_ever_named
        from modelplane.projections.queries.versions import stage_history

        if after is not None:
            after = check_int64(after, "log position")
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise ValidationError("limit must be a whole number of at least 1.")
            check_int64(limit, "limit")
        with self._store.read() as conn:
            model_ids = model_ids_ever_named(conn, model_name_or_id)
            rows = stage_history(conn, model_ids, after=after, limit=limit)
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
        from modelplane.projections.log import EventLog
        from modelplane.projections.queries.events import event_entries, event_positions
        from modelplane.projections.queries.models import model_ids_ever_named

        if limit < 1:
            raise ValidationError("limit must be at least 1.")
        start = check_int64(after or 0, "log position")
        check_int64(limit, "limit")
        log = EventLog.named(EVENTS_TABLE)
        with self._store.read() as conn:
            if model is None:
                rows = log.rows(conn, start, limit=limit)
            else:
                ids = model_ids_ever_named(conn, model)
                wanted = event_positions(conn, ids, start, limit)
                rows = log.rows_at(conn, wanted)
            index = event_entries(conn, [row[0] for row in rows])
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
        from modelplane.projections.queries.lineage import artifact_version_row

        with self._store.read() as conn:
            row = artifact_version_row(conn, name_id_or_prefix, version)
        return self._artifact_response(row)

    @normalises_names("name")
    def list_artifact_versions(
        self,
        name: str | None = None,
        page: int = 1,
        size: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[ArtifactVersionResponse]:
        """Artifact versions, newest first; ``name`` keeps one artifact's (``cursor``: as in
        ``list_models``)."""
        from modelplane.projections.queries.lineage import list_artifact_versions

        paging = _paging(page, size, cursor)
        with self._store.read() as conn:
            found = list_artifact_versions(conn, name=name, paging=paging)
        return self._page(found, [self._artifact_response(r) for r in found.rows], size)

    @normalises_names("name_id_or_prefix")
    def get_pipeline_run(self, name_id_or_prefix: str | UUID) -> PipelineRunResponse:
        """A run by id, name (the newest of that name) or unambiguous id prefix (ZenML's order)."""
        from modelplane.projections.queries.lineage import run_row

        with self._store.read() as conn:
            row = run_row(conn, name_id_or_prefix)
        return self._run_response(row)

    @normalises_names("model")
    def list_pipeline_runs(
        self,
        model: str | UUID | None = None,
        status: str | None = None,
        model_version_id: str | UUID | None = None,
        page: int = 1,
        size: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[PipelineRunResponse]:
        """Runs, newest first: of a model (every life of its name), a version, a status
        (``cursor``: as in ``list_models``)."""
        from modelplane.projections.queries.lineage import list_runs
        from modelplane.projections.queries.models import model_ids_ever_named

        paging = _paging(page, size, cursor)
        with self._store.read() as conn:
            model_ids = None if model is None else model_ids_ever_named(conn, model)
            found = list_runs(
                conn,
                model_ids=model_ids,
                model_version_id=None if model_version_id is None else str(model_version_id),
                status=status,
                paging=paging,
            )
        return self._page(found, [self._run_response(r) for r in found.rows], size)

    # ----------------------------------------------------------------- helpers

    def _page(self, found: PageRows, items: list[T], size: int) -> Page[T]:
        """A page of items; a total still to be counted is counted in a read of its own, if
        and when it is read."""
        from modelplane.projections.queries.paging import run_count

        total = found.total
        if isinstance(total, int):
            return Page(items, total, found.index, size, found.next_cursor)

        def count() -> int:
            with self._store.read() as conn:
                return run_count(conn, total)

        return Page(items, count, found.index, size, found.next_cursor)

    @property
    def artifact_store(self) -> ArtifactStore:
        """The folder artifacts are stored in (under ``MODELPLANE_HOME``)."""
        if self._artifacts is None:
            from .artifacts.content_store import ArtifactStore

            self._artifacts = ArtifactStore()
        return self._artifacts

    def _load_artifact(self, artifact: ArtifactVersionResponse) -> Any:
        from .artifacts.content_store import StoredArtifact

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
        from modelplane.projections.queries.lineage import artifact_links_of

        with self._store.read() as conn:
            rows = artifact_links_of(conn, str(version_id), until)
        linked: dict[str, dict[str, ArtifactVersionResponse]] = {}
        for row in rows:
            if kind is None or row["link_kind"] == kind:
                response = self._artifact_response(row)
                linked.setdefault(response.name, {})[response.version] = response
        return linked

    def _consumers_of(self, artifact_version_id: UUID) -> list[ArtifactConsumer]:
        from modelplane.projections.queries.lineage import consumers_of

        with self._store.read() as conn:
            rows = consumers_of(conn, str(artifact_version_id))
        return [
            ArtifactConsumer(UUID(r["run_id"]), r["step"], r["input_name"], int(r["position"]))
            for r in rows
        ]

    def _consuming_runs(self, version_id: UUID) -> list[PipelineRunResponse]:
        from modelplane.projections.queries.lineage import runs_consuming_version

        with self._store.read() as conn:
            rows = runs_consuming_version(conn, str(version_id))
        return [self._run_response(r) for r in rows]

    def _steps_of(self, run_id: UUID) -> dict[str, StepRunResponse]:
        from modelplane.projections.queries.lineage import run_steps_of

        with self._store.read() as conn:
            rows = run_steps_of(conn, str(run_id))
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
        from modelplane.projections.queries.models import model_row

        with self._store.read() as conn:
            return UUID(model_row(conn, model_name_or_id)["id"])

    def _version_by_id(
        self, version_id: UUID | str, *, deleted_ok: bool = False
    ) -> ModelVersionResponse:
        from modelplane.projections.queries.versions import version_with_model_name

        with self._store.read() as conn:
            row = version_with_model_name(conn, version_id, deleted_ok=deleted_ok)
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
        from modelplane.projections.queries.metadata_history import metadata_history

        with self._store.read() as conn:
            history = metadata_history(conn, str(version_id), until)
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


def _model(row: RowMapping) -> ModelResponse:
    return ModelResponse(
        id=UUID(row["id"]),
        name=row["name"],
        tags=list(row["tags"]),
        created=row["created"],
        updated=row["updated"],
        user=row["created_by"],
        latest_version_name=row["latest_version_name"],
        deleted=bool(row["deleted"]),
        **{field: row[field] for field in DESCRIPTIVE_FIELDS},
    )


def _stage_filter(stage: ModelStages | str) -> str:
    """The stage to list versions in: one a version can be in (``latest`` is not)."""
    value = selected_stage(stage)
    if value is None or value not in stages.ASSIGNABLE:
        msg = f"'{stage}' is not a stage to filter by; use one of: {', '.join(stages.ASSIGNABLE)}."
        raise ValidationError(msg)
    return value


def _paging(page: int, size: int, cursor: str | None) -> Paging:
    """What page a listing reads: a page number (ints >= 1 whose offset fits 64 bits) or a
    cursor a previous page handed out (checked when the listing decodes it)."""
    from modelplane.projections.queries.paging import Paging

    check_paging(page, size)
    if cursor is not None and not isinstance(cursor, str):
        msg = f"cursor must be a previous page's next_cursor, not {cursor!r}."
        raise ValidationError(msg)
    return Paging(page=page, size=size, cursor=cursor)
