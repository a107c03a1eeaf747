"""Lineage: artifacts and their versions, links to model versions, runs and their steps.

Answers "which runs produced this model version, which consumed it, which artifacts belong
to it by kind, which run and step made an artifact version and which runs read it".
"""

from __future__ import annotations

from typing import ClassVar

from eventsourcing.dispatch import singledispatchmethod
from sqlalchemy import Table, bindparam, insert, update

from modelplane.domain.artifact import Artifact
from modelplane.domain.model_version import ModelVersion
from modelplane.domain.pipeline_run import PipelineRun

from .folding import Batch, Projection
from .tables import (
    artifact_consumers,
    artifact_links,
    artifact_versions,
    artifacts,
    run_steps,
    runs,
)

_insert_artifact = insert(artifacts)
_bump_artifact = (
    update(artifacts)
    .where(artifacts.c.id == bindparam("_id"))
    .values(latest_number=bindparam("_number"))
)
_insert_artifact_version = insert(artifact_versions)
_insert_link = insert(artifact_links)
_insert_run = insert(runs)
_insert_step = insert(run_steps)
_insert_consumer = insert(artifact_consumers)
_finish_run = (
    update(runs)
    .where(runs.c.id == bindparam("_id"))
    .values(status=bindparam("_status"), error=bindparam("_error"), finished=bindparam("_at"))
)
# Every later sign of life of a run goes through this one merged update (the last queued
# wins), so a batch's order of merged and ordered updates cannot put an older time last.
_touch_run = update(runs).where(runs.c.id == bindparam("_id")).values(updated=bindparam("_at"))


class Lineage(Projection):
    name: ClassVar[str] = "lineage"
    tables: ClassVar[tuple[Table, ...]] = (
        artifacts,
        artifact_versions,
        artifact_links,
        runs,
        run_steps,
        artifact_consumers,
    )

    @singledispatchmethod
    def process_event(self, event: object, position: int, batch: Batch) -> None:
        """Other events leave these tables unchanged."""

    @process_event.register
    def _(self, event: Artifact.Registered, position: int, batch: Batch) -> None:
        batch.add(
            _insert_artifact,
            {
                "id": str(event.originator_id),
                "name": event.name,
                "created": event.timestamp,
                "created_by": event.actor,
                "latest_number": 0,
            },
        )

    @process_event.register
    def _(self, event: Artifact.VersionRecorded, position: int, batch: Batch) -> None:
        artifact_id = str(event.originator_id)
        batch.set_last(_bump_artifact, artifact_id, {"_id": artifact_id, "_number": event.number})
        batch.add(
            _insert_artifact_version,
            {
                "id": event.version_id,
                "artifact_id": artifact_id,
                "name": event.name,
                "number": event.number,
                "uri": event.uri,
                "content_hash": event.content_hash,
                "materializer": event.materializer,
                "data_type": event.data_type,
                "artifact_type": event.artifact_type,
                "size_bytes": event.size_bytes,
                "run_id": event.run_id,
                "step": event.step,
                "tags": list(event.tags),
                "warnings": list(event.warnings),
                "created": event.timestamp,
                "created_by": event.actor,
                "position": position,
            },
        )

    @process_event.register
    def _(self, event: ModelVersion.ArtifactLinked, position: int, batch: Batch) -> None:
        batch.add(
            _insert_link,
            {
                "position": position,
                "model_id": event.model_id,
                "model_version_id": str(event.originator_id),
                "artifact_id": event.artifact_id,
                "artifact_name": event.artifact_name,
                "artifact_version_id": event.artifact_version_id,
                "artifact_version_number": event.artifact_version_number,
                "kind": event.kind,
                "run_id": event.run_id,
                "step": event.step,
                "actor": event.actor,
                "timestamp": event.timestamp,
            },
        )

    @process_event.register
    def _(self, event: PipelineRun.Started, position: int, batch: Batch) -> None:
        batch.add(
            _insert_run,
            {
                "id": str(event.originator_id),
                "name": event.name,
                "pipeline": event.pipeline,
                "status": "running",
                "model_id": event.model_id,
                "model_version_id": event.model_version_id,
                "model_version_how": event.model_version_how,
                "stage": event.stage,
                "parameters": dict(event.parameters),
                "error": None,
                "started": event.timestamp,
                "finished": None,
                "updated": event.timestamp,
                "created_by": event.actor,
                "position": position,
            },
        )

    @process_event.register
    def _(self, event: PipelineRun.StepFinished, position: int, batch: Batch) -> None:
        run_id = str(event.originator_id)
        batch.set_last(_touch_run, run_id, {"_id": run_id, "_at": event.timestamp})
        batch.add(
            _insert_step,
            {
                "run_id": run_id,
                "position": position,
                "step": event.step,
                "status": event.status,
                "inputs": dict(event.inputs),
                "outputs": dict(event.outputs),
                "duration_ms": event.duration_ms,
                "error": event.error,
                "finished": event.timestamp,
            },
        )
        for input_name, artifact_version_id in event.inputs.items():
            batch.add(
                _insert_consumer,
                {
                    "artifact_version_id": artifact_version_id,
                    "run_id": run_id,
                    "step": event.step,
                    "input_name": input_name,
                    "position": position,
                },
            )

    @process_event.register
    def _(self, event: PipelineRun.Finished, position: int, batch: Batch) -> None:
        run_id = str(event.originator_id)
        batch.set_last(_touch_run, run_id, {"_id": run_id, "_at": event.timestamp})
        batch.add(
            _finish_run,
            {
                "_id": str(event.originator_id),
                "_status": event.status,
                "_error": event.error,
                "_at": event.timestamp,
            },
        )
