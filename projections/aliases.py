"""Aliases: which version each alias of a model names now, and every set, move and removal.

Each ``Model.AliasSet`` and ``Model.AliasRemoved`` is one history row; the current table keeps
one row per held alias, made batch-safe by the position in its key (see ``mp_aliases``).
A version or model deleted while holding aliases appended their removals itself, in the
deletion's transaction, so no other event touches these tables.
"""

from __future__ import annotations

from typing import ClassVar

from eventsourcing.dispatch import singledispatchmethod
from sqlalchemy import Table, bindparam, delete, insert

from modelplane.domain.model import Model

from .folding import Batch, Projection
from .tables import alias_history, aliases

_insert_alias = insert(aliases)
_insert_change = insert(alias_history)
_drop_older = delete(aliases).where(
    aliases.c.model_id == bindparam("_model_id"),
    aliases.c.alias == bindparam("_alias"),
    aliases.c.position < bindparam("_position"),
)


class Aliases(Projection):
    name: ClassVar[str] = "aliases"
    tables: ClassVar[tuple[Table, ...]] = (aliases, alias_history)

    @singledispatchmethod
    def process_event(self, event: object, position: int, batch: Batch) -> None:
        """Other events leave these tables unchanged."""

    @process_event.register
    def _(self, event: Model.AliasSet, position: int, batch: Batch) -> None:
        model_id = str(event.originator_id)
        batch.add(
            _insert_alias,
            {
                "model_id": model_id,
                "alias": event.alias,
                "position": position,
                "version_id": event.version_id,
                "version_number": event.version_number,
            },
        )
        batch.add(
            _drop_older, {"_model_id": model_id, "_alias": event.alias, "_position": position}
        )
        batch.add(
            _insert_change,
            {
                "position": position,
                "model_id": model_id,
                "alias": event.alias,
                "version_id": event.version_id,
                "version_number": event.version_number,
                "previous_version_id": event.previous_version_id,
                "previous_version_number": event.previous_version_number,
                "actor": event.actor,
                "reason": event.reason,
                "timestamp": event.timestamp,
            },
        )

    @process_event.register
    def _(self, event: Model.AliasRemoved, position: int, batch: Batch) -> None:
        model_id = str(event.originator_id)
        batch.add(
            _drop_older, {"_model_id": model_id, "_alias": event.alias, "_position": position}
        )
        batch.add(
            _insert_change,
            {
                "position": position,
                "model_id": model_id,
                "alias": event.alias,
                "version_id": None,
                "version_number": None,
                "previous_version_id": event.version_id,
                "previous_version_number": event.version_number,
                "actor": event.actor,
                "reason": event.reason,
                "timestamp": event.timestamp,
            },
        )
