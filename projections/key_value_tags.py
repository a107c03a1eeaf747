"""Key-value tags of models and versions: the current ones, and every set and deletion.

Current rows are kept as ``mp_aliases`` is (the set's position in the key; older rows of the
key dropped), so any batch of sets and deletions leaves the last value of each key. The
history holds one row per event, the value NULL for a deletion (an empty string is a value).
"""

from __future__ import annotations

from typing import ClassVar

from eventsourcing.dispatch import singledispatchmethod
from sqlalchemy import Executable, Table, bindparam, delete, insert

from modelplane.domain.model import Model
from modelplane.domain.model_version import ModelVersion

from .folding import Batch, Projection
from .tables import key_value_tag_history, model_key_value_tags, version_key_value_tags

M, V = model_key_value_tags.c, version_key_value_tags.c

_insert_model_tag = insert(model_key_value_tags)
_insert_version_tag = insert(version_key_value_tags)
_insert_change = insert(key_value_tag_history)
_drop_older_model_tags = delete(model_key_value_tags).where(
    M.model_id == bindparam("_id"), M.key == bindparam("_key"), M.position < bindparam("_position")
)
_drop_older_version_tags = delete(version_key_value_tags).where(
    V.version_id == bindparam("_id"),
    V.key == bindparam("_key"),
    V.position < bindparam("_position"),
)


class KeyValueTags(Projection):
    name: ClassVar[str] = "key_value_tags"
    tables: ClassVar[tuple[Table, ...]] = (
        model_key_value_tags,
        version_key_value_tags,
        key_value_tag_history,
    )

    @singledispatchmethod
    def process_event(self, event: object, position: int, batch: Batch) -> None:
        """Other events leave these tables unchanged."""

    @process_event.register
    def _(self, event: Model.KeyValueTagSet, position: int, batch: Batch) -> None:
        model_id = str(event.originator_id)
        row = {"model_id": model_id, "key": event.key, "position": position, "value": event.value}
        batch.add(_insert_model_tag, row)
        _changed(batch, model_id, event.key, event.value, position, _drop_older_model_tags)

    @process_event.register
    def _(self, event: Model.KeyValueTagDeleted, position: int, batch: Batch) -> None:
        _changed(batch, str(event.originator_id), event.key, None, position, _drop_older_model_tags)

    @process_event.register
    def _(self, event: ModelVersion.KeyValueTagSet, position: int, batch: Batch) -> None:
        version_id = str(event.originator_id)
        batch.add(
            _insert_version_tag,
            {
                "version_id": version_id,
                "key": event.key,
                "position": position,
                "model_id": event.model_id,
                "value": event.value,
            },
        )
        _changed(batch, version_id, event.key, event.value, position, _drop_older_version_tags)

    @process_event.register
    def _(self, event: ModelVersion.KeyValueTagDeleted, position: int, batch: Batch) -> None:
        version_id = str(event.originator_id)
        _changed(batch, version_id, event.key, None, position, _drop_older_version_tags)


def _changed(
    batch: Batch,
    subject_id: str,
    key: str,
    value: str | None,
    position: int,
    drop_older: Executable,
) -> None:
    """The key's earlier current rows dropped, and the change kept in the history."""
    batch.add(drop_older, {"_id": subject_id, "_key": key, "_position": position})
    batch.add(
        _insert_change,
        {"position": position, "subject_id": subject_id, "key": key, "value": value},
    )
