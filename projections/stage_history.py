"""Stage history: every stage change, and each exclusive stage's holder over log positions."""

from __future__ import annotations

from typing import ClassVar

from eventsourcing.dispatch import singledispatchmethod
from sqlalchemy import Table, insert

from modelplane.domain import stages
from modelplane.domain.model import Model

from .folding import Batch, Projection
from .tables import stage_changes, stage_holders

_insert_change = insert(stage_changes)
_insert_holder = insert(stage_holders)


class StageHistory(Projection):
    name: ClassVar[str] = "stage_history"
    tables: ClassVar[tuple[Table, ...]] = (stage_changes, stage_holders)

    @singledispatchmethod
    def process_event(self, event: object, position: int, batch: Batch) -> None:
        """Other events leave these tables unchanged."""

    @process_event.register
    def _(self, event: Model.StageChanged, position: int, batch: Batch) -> None:
        model_id = str(event.originator_id)
        batch.add(
            _insert_change,
            {
                "position": position,
                "model_id": model_id,
                "version_id": event.version_id,
                "version_name": event.version_name,
                "stage": event.stage,
                "previous_stage": event.previous_stage,
                "displaced_version_id": event.displaced_version_id,
                "displaced_version_name": event.displaced_version_name,
                "actor": event.actor,
                "reason": event.reason,
                "timestamp": event.timestamp,
            },
        )
        if event.previous_stage in stages.EXCLUSIVE:
            batch.add(
                _insert_holder,
                {
                    "model_id": model_id,
                    "stage": event.previous_stage,
                    "position": position,
                    "version_id": None,
                },
            )
        if event.stage in stages.EXCLUSIVE:
            batch.add(
                _insert_holder,
                {
                    "model_id": model_id,
                    "stage": event.stage,
                    "position": position,
                    "version_id": event.version_id,
                },
            )

    @process_event.register
    def _(self, event: Model.VersionDeleted, position: int, batch: Batch) -> None:
        if event.stage in stages.EXCLUSIVE:
            model_id = str(event.originator_id)
            _left_by_deletion(
                batch, event, position, model_id, event.version_id, event.version_name, event.stage
            )
            batch.add(
                _insert_holder,
                {
                    "model_id": model_id,
                    "stage": event.stage,
                    "position": position,
                    "version_id": None,
                },
            )

    @process_event.register
    def _(self, event: Model.Deleted, position: int, batch: Batch) -> None:
        model_id = str(event.originator_id)
        for holder in event.holders:
            _left_by_deletion(
                batch,
                event,
                position,
                model_id,
                holder["version_id"],
                holder["version_name"],
                holder["stage"],
            )
        for stage in stages.EXCLUSIVE:
            batch.add(
                _insert_holder,
                {"model_id": model_id, "stage": stage, "position": position, "version_id": None},
            )


def _left_by_deletion(
    batch: Batch,
    event: Model.VersionDeleted | Model.Deleted,
    position: int,
    model_id: str,
    version_id: str,
    version_name: str,
    stage: str,
) -> None:
    """A holder left its stage because it or its model was deleted: ``stage -> deleted``.

    The row shares the deletion's position (the primary key is position and version, as a
    model's deletion can release two holders at once).
    """
    batch.add(
        _insert_change,
        {
            "position": position,
            "model_id": model_id,
            "version_id": version_id,
            "version_name": version_name,
            "stage": stages.DELETED,
            "previous_stage": stage,
            "displaced_version_id": None,
            "displaced_version_name": None,
            "actor": event.actor,
            "reason": event.reason,
            "timestamp": event.timestamp,
        },
    )
