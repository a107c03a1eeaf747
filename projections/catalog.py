"""The catalog: current state of models and versions (with each version's current stage)."""

from __future__ import annotations

from typing import Any, ClassVar

from eventsourcing.dispatch import singledispatchmethod
from sqlalchemy import Executable, Table, and_, bindparam, insert, update

from modelplane.domain import stages
from modelplane.domain.model import DESCRIPTIVE_FIELDS, Model
from modelplane.domain.model_version import ModelVersion

from .folding import Batch, Projection
from .tables import model_names, models, version_states, versions

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
    tables: ClassVar[tuple[Table, ...]] = (models, model_names, versions, version_states)

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
        )
        batch.add(_insert_model, row)
        batch.add(_insert_name, {"model_id": row["id"], "position": position, "name": event.name})

    @process_event.register
    def _(self, event: Model.Updated, position: int, batch: Batch) -> None:
        changes = dict(event.changes, updated=event.timestamp)
        params = {f"_{key}": value for key, value in changes.items()}
        params["_id"] = str(event.originator_id)
        batch.add(_update(models, frozenset(changes)), params)
        if "name" in event.changes:
            batch.add(
                _insert_name,
                {"model_id": params["_id"], "position": position, "name": event.changes["name"]},
            )

    @process_event.register
    def _(self, event: Model.Deleted, position: int, batch: Batch) -> None:
        params = {"_id": str(event.originator_id), "_at": event.timestamp, "_position": position}
        batch.add(_delete_model, params)
        batch.add(_delete_model_versions, params)

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
            },
        )
        batch.add_to(_count_version, event.model_id, "_delta", {"_id": event.model_id, "_delta": 1})
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
        params = {"_id": event.model_id, "_delta": -1}
        batch.add_to(_count_version, event.model_id, "_delta", params)

    @process_event.register
    def _(self, event: Model.StageChanged, position: int, batch: Batch) -> None:
        params = {"_id": event.version_id, "_stage": event.stage, "_at": event.timestamp}
        batch.add(_set_stage, params)
