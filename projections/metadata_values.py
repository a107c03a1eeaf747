"""The ``metadata`` projection: every value ever logged per key on a model version, artifact
version or run.

Values are stored as the event holds them: JSON in the lossless form of
``domain.validation.encode_metadata`` (NaN, infinities and big integers tagged), which both
backends' JSON columns accept. Readers decode them with ``domain.validation.decode_value``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from eventsourcing.dispatch import singledispatchmethod
from sqlalchemy import Table, insert

from modelplane.domain.artifact import Artifact
from modelplane.domain.model_version import ModelVersion
from modelplane.domain.pipeline_run import PipelineRun

from .folding import Batch, Projection
from .tables import metadata_values

_insert_value = insert(metadata_values)

MODEL_VERSION = "model_version"
ARTIFACT_VERSION = "artifact_version"
RUN = "run"


def _add(batch: Batch, event: Any, position: int, row: dict[str, Any]) -> None:
    for key, value in event.metadata.items():
        batch.add(
            _insert_value,
            dict(
                row,
                position=position,
                key=key,
                value=value,
                actor=event.actor,
                timestamp=event.timestamp,
            ),
        )


class MetadataValues(Projection):
    name: ClassVar[str] = "metadata"
    tables: ClassVar[tuple[Table, ...]] = (metadata_values,)

    @singledispatchmethod
    def process_event(self, event: object, position: int, batch: Batch) -> None:
        """Other events leave these tables unchanged."""

    @process_event.register
    def _(self, event: ModelVersion.MetadataLogged, position: int, batch: Batch) -> None:
        row = {
            "subject_kind": MODEL_VERSION,
            "subject_id": str(event.originator_id),
            "model_id": event.model_id,
            "run_id": event.run_id,
            "step": event.step,
        }
        _add(batch, event, position, row)

    @process_event.register
    def _(self, event: Artifact.MetadataLogged, position: int, batch: Batch) -> None:
        row = {
            "subject_kind": ARTIFACT_VERSION,
            "subject_id": event.version_id,
            "model_id": None,
            "run_id": event.run_id,
            "step": event.step,
        }
        _add(batch, event, position, row)

    @process_event.register
    def _(self, event: PipelineRun.MetadataLogged, position: int, batch: Batch) -> None:
        row = {
            "subject_kind": RUN,
            "subject_id": str(event.originator_id),
            "model_id": None,
            "run_id": str(event.originator_id),
            "step": event.step,
        }
        _add(batch, event, position, row)
