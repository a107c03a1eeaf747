"""Metadata: every value ever logged on a version, per key; the latest is the current one."""

from __future__ import annotations

from typing import ClassVar

from eventsourcing.dispatch import singledispatchmethod
from sqlalchemy import Table, insert

from domain.model_version import ModelVersion

from .folding import Batch, Projection
from .tables import metadata_values

_insert_value = insert(metadata_values)


class Metadata(Projection):
    name: ClassVar[str] = "metadata"
    tables: ClassVar[tuple[Table, ...]] = (metadata_values,)

    @singledispatchmethod
    def process_event(self, event: object, position: int, batch: Batch) -> None:
        """Other events leave these tables unchanged."""

    @process_event.register
    def _(self, event: ModelVersion.MetadataLogged, position: int, batch: Batch) -> None:
        for key, value in event.metadata.items():
            batch.add(
                _insert_value,
                {
                    "position": position,
                    "key": key,
                    "version_id": str(event.originator_id),
                    "model_id": event.model_id,
                    "value": value,
                    "actor": event.actor,
                    "timestamp": event.timestamp,
                },
            )
