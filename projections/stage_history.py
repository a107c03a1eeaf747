"""Stage history: every stage change, and each exclusive stage's holder over log positions."""

from __future__ import annotations

from typing import ClassVar

from eventsourcing.dispatch import singledispatchmethod
from sqlalchemy import Table, insert

from domain import stages
from domain.model import Model

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
            batch.add(
                _insert_holder,
                {
                    "model_id": str(event.originator_id),
                    "stage": event.stage,
                    "position": position,
                    "version_id": None,
                },
            )

    @process_event.register
    def _(self, event: Model.Deleted, position: int, batch: Batch) -> None:
        for stage in stages.EXCLUSIVE:
            batch.add(
                _insert_holder,
                {
                    "model_id": str(event.originator_id),
                    "stage": stage,
                    "position": position,
                    "version_id": None,
                },
            )
