"""``order_by`` of MLflow's searches: which fields, which way, and the ties broken as MLflow
breaks them, so that a search has one order and a page token can say where a page ended.

Each item is a field, optionally followed by ``ASC`` or ``DESC`` (``"name"``,
``"last_updated_timestamp DESC"``); a field may be named once. Registered models sort by
``name``, ``creation_timestamp`` or ``last_updated_timestamp`` (``timestamp`` too, as MLflow
allows) and then by name; model versions by ``name``, ``version_number``,
``creation_timestamp`` or ``last_updated_timestamp`` (by default
``last_updated_timestamp DESC, name ASC, version_number DESC``, MLflow's), and then by name
and version number, descending (``SqlAlchemyStore._parse_search_model_versions_order_by``).
The final keys are unique among live entities, so the order is total.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from modelplane.domain.errors import ValidationError


@dataclass(frozen=True)
class OrderKey:
    field: str
    descending: bool = False

    def __str__(self) -> str:
        return f"{self.field} {'DESC' if self.descending else 'ASC'}"


@dataclass(frozen=True)
class Ordering:
    """What one search sorts by: the fields it accepts and what follows the caller's."""

    fields: frozenset[str]
    default: tuple[OrderKey, ...]
    ties: tuple[OrderKey, ...]
    aliases: Mapping[str, str]


REGISTERED_MODELS = Ordering(
    frozenset({"name", "creation_timestamp", "last_updated_timestamp"}),
    default=(),
    ties=(OrderKey("name"),),
    aliases={"timestamp": "creation_timestamp"},
)
MODEL_VERSIONS = Ordering(
    frozenset({"name", "version_number", "creation_timestamp", "last_updated_timestamp"}),
    default=(
        OrderKey("last_updated_timestamp", descending=True),
        OrderKey("name"),
        OrderKey("version_number", descending=True),
    ),
    ties=(OrderKey("name"), OrderKey("version_number", descending=True)),
    aliases={},
)


def parse(items: Sequence[str] | None, ordering: Ordering) -> tuple[OrderKey, ...]:
    """The whole order: the caller's keys (or the default), then the tie-breakers not named."""
    keys = [_key(item, ordering) for item in items or ()]
    named = [key.field for key in keys]
    if len(set(named)) < len(named):
        raise ValidationError(f"`order_by` contains duplicate fields: {list(items or ())}")
    if not keys:
        keys = list(ordering.default)
    for tie in ordering.ties:
        if all(key.field != tie.field for key in keys):
            keys.append(tie)
    return tuple(keys)


def _key(item: str, ordering: Ordering) -> OrderKey:
    if not isinstance(item, str):
        raise ValidationError(f"Invalid order_by clause {item!r}.")
    words = item.replace("`", " ").split()
    if not words or len(words) > 2:
        raise ValidationError(f"Invalid order_by clause '{item}'. Could not be parsed.")
    descending = False
    if len(words) == 2:
        direction = words[1].upper()
        if direction not in ("ASC", "DESC"):
            raise ValidationError(f"Invalid ordering key in order_by clause '{item}'.")
        descending = direction == "DESC"
    field = ordering.aliases.get(words[0], words[0])
    if field not in ordering.fields:
        valid = ", ".join(sorted(ordering.fields))
        msg = f"Invalid order by key '{words[0]}' specified. Valid keys are {valid}."
        raise ValidationError(msg)
    return OrderKey(field, descending)


@functools.total_ordering
class _Descending:
    """A value that sorts the other way round."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Descending) and self.value == other.value

    def __lt__(self, other: _Descending) -> bool:
        return bool(self.value > other.value)

    def __hash__(self) -> int:
        return hash(self.value)


def sort_key(keys: tuple[OrderKey, ...], values: Sequence[Any]) -> tuple[Any, ...]:
    """A tuple that sorts as ``keys`` order these values (one per key, in order)."""
    return tuple(
        _Descending(value) if key.descending else value
        for key, value in zip(keys, values, strict=True)
    )
