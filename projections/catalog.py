"""The catalog: current state of models and versions (with each version's current stage).

Besides the rows of models and versions it keeps what their listings would otherwise count
or scan: each model's live version count and latest live version, the live model count,
and the current tags of models and versions as rows of their own (indexed by tag).
"""

from __future__ import annotations

from typing import Any, ClassVar

from eventsourcing.dispatch import singledispatchmethod
from sqlalchemy import (
    Executable,
    Table,
    and_,
    bindparam,
    case,
    delete,
    exists,
    false,
    insert,
    literal,
    select,
    update,
)

from modelplane.domain import stages
from modelplane.domain.model import DESCRIPTIVE_FIELDS, Model
from modelplane.domain.model_version import ModelVersion

from .folding import Batch, Projection
from .tables import (
    counters,
    model_names,
    model_tags,
    models,
    version_states,
    version_tags,
    versions,
)

LIVE_MODELS = "live_models"

_insert_model = insert(models)
_insert_name = insert(model_names)
_insert_version = insert(versions)
_insert_version_state = insert(version_states)
_delete_model = (
    update(models)
    .where(models.c.id == bindparam("_id"))
    .values(
        deleted=True,
        deleted_at=bindparam("_at"),
        deleted_position=bindparam("_position"),
        updated=bindparam("_at"),
    )
)
_delete_model_versions = (
    update(versions)
    .where(and_(versions.c.model_id == bindparam("_id"), versions.c.deleted.is_(False)))
    .values(deleted=True, deleted_at=bindparam("_at"), deleted_position=bindparam("_position"))
)
_delete_version = (
    update(versions)
    .where(versions.c.id == bindparam("_id"))
    .values(
        deleted=True,
        deleted_at=bindparam("_at"),
        deleted_position=bindparam("_position"),
        updated=bindparam("_at"),
    )
)
_count_version = (
    update(models)
    .where(models.c.id == bindparam("_id"))
    .values(live_versions=models.c.live_versions + bindparam("_delta"))
)
_set_stage = (
    update(versions)
    .where(versions.c.id == bindparam("_id"))
    .values(stage=bindparam("_stage"), updated=bindparam("_at"))
)
# A model's ``updated`` is its last activity, as MLflow's ``last_updated_timestamp`` is: its
# own edits, and a version created, promoted or deleted, or an alias moved. Never backwards
# (a merged update runs after the batch's own updates of the row, which may be later).
_at = bindparam("_at", type_=models.c.updated.type)
_last_activity = case((models.c.updated < _at, _at), else_=models.c.updated)
_touch_model = (
    update(models).where(models.c.id == bindparam("_id")).values(updated=_last_activity)
)
# The highest-numbered live version, recomputed once per model per batch after every other
# statement (one seek on ``mp_versions_live``): a deleted latest hands over to the next. A
# version created or deleted is activity of the model too: the same statement moves it.
_refresh_latest = (
    update(models)
    .where(models.c.id == bindparam("_id"))
    .values(
        latest_version_id=select(versions.c.id)
        .where(versions.c.model_id == bindparam("_id"), versions.c.deleted == false())
        .order_by(versions.c.number.desc())
        .limit(1)
        .scalar_subquery(),
        updated=_last_activity,
    )
)
# The live model counter: its row is made by the first batch that moves it (a rebuild
# empties the table), then moved by the sum of the batch's registrations and deletions.
_ensure_counter = insert(counters).from_select(
    ["name", "value"],
    select(literal(LIVE_MODELS), literal(0)).where(
        ~exists().where(counters.c.name == LIVE_MODELS)
    ),
)
_move_counter = (
    update(counters)
    .where(counters.c.name == bindparam("_name"))
    .values(value=counters.c.value + bindparam("_delta"))
)
_insert_model_tag = insert(model_tags)
# a tag edit by a later event: the rows take the model's name as the table has it (a rename
# in the same batch rewrites them after: ``_rename_model_tags``)
_derive_model_tag = insert(model_tags).from_select(
    ["model_id", "position", "tag", "name"],
    select(
        models.c.id,
        bindparam("position", type_=models.c.registered_position.type),
        bindparam("tag", type_=model_tags.c.tag.type),
        models.c.name,
    ).where(models.c.id == bindparam("model_id")),
)
_drop_older_model_tags = delete(model_tags).where(
    model_tags.c.model_id == bindparam("_id"), model_tags.c.position < bindparam("_position")
)
_drop_model_tags = delete(model_tags).where(model_tags.c.model_id == bindparam("_id"))
_rename_model_tags = (
    update(model_tags)
    .where(model_tags.c.model_id == bindparam("_id"))
    .values(name=bindparam("_name"))
)
_insert_version_tag = insert(version_tags)
_derive_version_tag = insert(version_tags).from_select(
    ["version_id", "position", "tag", "model_id", "number"],
    select(
        versions.c.id,
        bindparam("position", type_=versions.c.created_position.type),
        bindparam("tag", type_=version_tags.c.tag.type),
        versions.c.model_id,
        versions.c.number,
    ).where(versions.c.id == bindparam("version_id")),
)
_drop_older_version_tags = delete(version_tags).where(
    version_tags.c.version_id == bindparam("_id"),
    version_tags.c.position < bindparam("_position"),
)
_drop_version_tags = delete(version_tags).where(version_tags.c.version_id == bindparam("_id"))
_drop_model_version_tags = delete(version_tags).where(
    version_tags.c.model_id == bindparam("_id")
)
_updates: dict[tuple[Table, frozenset[str]], Executable] = {}


def _update(table: Table, keys: frozenset[str]) -> Executable:
    """One cached UPDATE per (table, set of changed columns), so batches can group them."""
    statement = _updates.get((table, keys))
    if statement is None:
        statement = (
            update(table)
            .where(table.c.id == bindparam("_id"))
            .values({key: bindparam(f"_{key}") for key in keys})
        )
        _updates[(table, keys)] = statement
    return statement


class Catalog(Projection):
    name: ClassVar[str] = "catalog"
    tables: ClassVar[tuple[Table, ...]] = (
        models,
        model_names,
        model_tags,
        versions,
        version_states,
        version_tags,
        counters,
    )

    @singledispatchmethod
    def process_event(self, event: object, position: int, batch: Batch) -> None:
        """Other events leave these tables unchanged."""

    @process_event.register
    def _(self, event: Model.Registered, position: int, batch: Batch) -> None:
        row: dict[str, Any] = {field: event.fields.get(field) for field in DESCRIPTIVE_FIELDS}
        row.update(
            id=str(event.originator_id),
            name=event.name,
            tags=list(event.tags),
            created=event.timestamp,
            updated=event.timestamp,
            created_by=event.actor,
            deleted=False,
            deleted_at=None,
            registered_position=position,
            deleted_position=None,
            live_versions=0,
            latest_version_id=None,
        )
        batch.add(_insert_model, row)
        batch.add(_insert_name, {"model_id": row["id"], "position": position, "name": event.name})
        for tag in dict.fromkeys(row["tags"]):  # a log may hold a list from before dedup
            batch.add(
                _insert_model_tag,
                {"model_id": row["id"], "position": position, "tag": tag, "name": event.name},
            )
        _count_models(batch, 1)

    @process_event.register
    def _(self, event: Model.Updated, position: int, batch: Batch) -> None:
        changes = dict(event.changes, updated=event.timestamp)
        params = {f"_{key}": value for key, value in changes.items()}
        params["_id"] = str(event.originator_id)
        batch.add(_update(models, frozenset(changes)), params)
        model_id = params["_id"]
        if "tags" in event.changes:
            for tag in dict.fromkeys(event.changes["tags"]):
                batch.derive(
                    _derive_model_tag, {"model_id": model_id, "position": position, "tag": tag}
                )
            batch.add(_drop_older_model_tags, {"_id": model_id, "_position": position})
        if "name" in event.changes:
            name = event.changes["name"]
            batch.add(_insert_name, {"model_id": model_id, "position": position, "name": name})
            batch.add(_rename_model_tags, {"_id": model_id, "_name": name})

    @process_event.register
    def _(self, event: Model.Deleted, position: int, batch: Batch) -> None:
        model_id = str(event.originator_id)
        params = {"_id": model_id, "_at": event.timestamp, "_position": position}
        batch.add(_delete_model, params)
        batch.add(_delete_model_versions, params)
        batch.add(_drop_model_tags, {"_id": model_id})
        batch.add(_drop_model_version_tags, {"_id": model_id})
        _refresh(batch, model_id, event.timestamp)
        _count_models(batch, -1)

    @process_event.register
    def _(self, event: ModelVersion.Created, position: int, batch: Batch) -> None:
        batch.add(
            _insert_version,
            {
                "id": str(event.originator_id),
                "model_id": event.model_id,
                "number": event.number,
                "name": event.name,
                "description": event.description,
                "tags": list(event.tags),
                "stage": stages.NONE,
                "created": event.timestamp,
                "updated": event.timestamp,
                "created_by": event.actor,
                "deleted": False,
                "deleted_at": None,
                "created_position": position,
                "deleted_position": None,
                "source": event.source,
                "source_run_id": event.source_run_id,
                "source_run_link": event.source_run_link,
            },
        )
        batch.add_to(_count_version, event.model_id, "_delta", {"_id": event.model_id, "_delta": 1})
        _refresh(batch, event.model_id, event.timestamp)
        for tag in dict.fromkeys(event.tags):
            batch.add(
                _insert_version_tag,
                {
                    "version_id": str(event.originator_id),
                    "position": position,
                    "tag": tag,
                    "model_id": event.model_id,
                    "number": event.number,
                },
            )
        batch.add(
            _insert_version_state,
            {
                "version_id": str(event.originator_id),
                "position": position,
                "model_id": event.model_id,
                "name": event.name,
                "description": event.description,
                "tags": list(event.tags),
            },
        )

    @process_event.register
    def _(self, event: ModelVersion.Updated, position: int, batch: Batch) -> None:
        changes = dict(event.changes, updated=event.timestamp)
        params = {f"_{key}": value for key, value in changes.items()}
        params["_id"] = str(event.originator_id)
        batch.add(_update(versions, frozenset(changes)), params)
        if "tags" in event.changes:
            for tag in dict.fromkeys(event.changes["tags"]):
                batch.derive(
                    _derive_version_tag,
                    {"version_id": params["_id"], "position": position, "tag": tag},
                )
            batch.add(_drop_older_version_tags, {"_id": params["_id"], "_position": position})
        batch.add(
            _insert_version_state,
            {
                "version_id": params["_id"],
                "position": position,
                "model_id": event.model_id,
                "name": event.changes.get("name"),
                "description": event.changes.get("description"),
                "tags": event.changes.get("tags"),
            },
        )

    @process_event.register
    def _(self, event: ModelVersion.Deleted, position: int, batch: Batch) -> None:
        params = {"_id": str(event.originator_id), "_at": event.timestamp, "_position": position}
        batch.add(_delete_version, params)
        batch.add(_drop_version_tags, {"_id": params["_id"]})
        params = {"_id": event.model_id, "_delta": -1}
        batch.add_to(_count_version, event.model_id, "_delta", params)
        _refresh(batch, event.model_id, event.timestamp)

    @process_event.register
    def _(self, event: Model.StageChanged, position: int, batch: Batch) -> None:
        params = {"_id": event.version_id, "_stage": event.stage, "_at": event.timestamp}
        batch.add(_set_stage, params)
        _touch(batch, str(event.originator_id), event.timestamp)

    @process_event.register
    def _(self, event: Model.AliasSet, position: int, batch: Batch) -> None:
        _touch(batch, str(event.originator_id), event.timestamp)

    @process_event.register
    def _(self, event: Model.AliasRemoved, position: int, batch: Batch) -> None:
        _touch(batch, str(event.originator_id), event.timestamp)


def _refresh(batch: Batch, model_id: str, at: object) -> None:
    """Recompute the model's latest live version once the batch has settled its versions,
    and move its last activity to ``at``."""
    batch.set_last(_refresh_latest, model_id, {"_id": model_id, "_at": at})


def _touch(batch: Batch, model_id: str, at: object) -> None:
    """Move the model's last activity to ``at`` (events come in order: the last is the latest)."""
    batch.set_last(_touch_model, model_id, {"_id": model_id, "_at": at})


def _count_models(batch: Batch, delta: int) -> None:
    """Move the live model counter (its row made first if a rebuild emptied the table)."""
    batch.set_last(_ensure_counter, LIVE_MODELS, {})
    batch.add_to(_move_counter, LIVE_MODELS, "_delta", {"_name": LIVE_MODELS, "_delta": delta})
