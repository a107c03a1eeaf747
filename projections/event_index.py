"""The event index: which model each log position belongs to, its type, actor and time.

The log itself is keyed by aggregate; this index lets ``list_events(model=...)`` and
time travel by timestamp find positions without decoding the whole log.
"""

from __future__ import annotations

from typing import ClassVar

from sqlalchemy import Table, insert

from modelplane.domain.artifact import Artifact
from modelplane.domain.model import Model
from modelplane.domain.pipeline_run import PipelineRun

from .folding import Batch, Projection, event_type
from .tables import event_index

_insert_entry = insert(event_index)


def owning_model_id(event: object) -> str | None:
    """The model an event belongs to: its originator for ``Model`` events, else its field.

    Events that name no model (an artifact recorded outside a model, a run without one, a
    name index entry being created) belong to none.
    """
    if isinstance(event, Model.Event):
        return str(event.originator_id)
    model_id = getattr(event, "model_id", None)
    return None if model_id is None else str(model_id)


def owning_run_id(event: object) -> str | None:
    """The run an event belongs to (a run's own events) or was made in (its outputs, links
    and metadata logged from its steps)."""
    if isinstance(event, PipelineRun.Event):
        return str(event.originator_id)
    run_id = getattr(event, "run_id", None)
    return None if run_id is None else str(run_id)


def artifact_version_of(event: object) -> str | None:
    """The artifact version an ``Artifact`` event records or annotates."""
    if isinstance(event, Artifact.Event):
        version_id = getattr(event, "version_id", None)
        return None if version_id is None else str(version_id)
    return None


class EventIndex(Projection):
    name: ClassVar[str] = "event_index"
    tables: ClassVar[tuple[Table, ...]] = (event_index,)

    def process_event(self, event: object, position: int, batch: Batch) -> None:
        batch.add(
            _insert_entry,
            {
                "position": position,
                "model_id": owning_model_id(event),
                "run_id": owning_run_id(event),
                "artifact_version_id": artifact_version_of(event),
                "type": event_type(event),
                "actor": getattr(event, "actor", None),
                "timestamp": event.timestamp,  # type: ignore[attr-defined]
            },
        )
