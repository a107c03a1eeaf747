"""``search_registered_models`` and ``search_model_versions`` over the caller's backend.

The filter (``filters.py``) and the order (``ordering.py``) are translated into the
conditions and sort keys of ``projections.queries.searches``, which filters, sorts and cuts
the page in SQL: a search reads one page of rows (and one more, to know whether another page
follows), whatever the number of models or versions. The page token (``paging.py``) holds
the sort key of the page's last row, timestamps in microseconds, as stored, so the next page
starts exactly after it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar

from modelplane.backend.local import LocalBackend
from modelplane.domain.errors import ValidationError
from modelplane.domain.names import MAX_VERSION_NUMBER
from modelplane.projections.queries.searches import Condition, Sort, SortValue
from modelplane.responses import ModelResponse, ModelVersionResponse

from . import filters, ordering, paging

T = TypeVar("T")

#: MLflow's limits (``mlflow.store.model_registry``)
MODELS_DEFAULT, MODELS_MAX = 100, 1000
VERSIONS_DEFAULT, VERSIONS_MAX = 10_000, 200_000

MODELS_SCOPE, VERSIONS_SCOPE = "registered-models", "model-versions"
#: MLflow's names for what the read tables hold
_FIELDS = {
    "name": "name",
    "version_number": "number",
    "creation_timestamp": "created",
    "last_updated_timestamp": "updated",
    "run_id": "run_id",
    "source_path": "source",
}
_TIMESTAMPS = frozenset({"creation_timestamp", "last_updated_timestamp"})
_TYPES = {
    "name": str,
    "version_number": int,
    "creation_timestamp": int,
    "last_updated_timestamp": int,
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Found(Generic[T]):
    items: list[T]
    next_page_token: str | None


def page_size(max_results: int | None, default: int, limit: int) -> int:
    if max_results is None:
        return default
    if max_results < 1:
        msg = (
            "Invalid value for request parameter max_results. It must be a positive number, "
            f"but got value {max_results}"
        )
        raise ValidationError(msg)
    if max_results > limit:
        msg = (
            "Invalid value for request parameter max_results. It must be at most "
            f"{limit}, but got value {max_results}"
        )
        raise ValidationError(msg)
    return max_results


def search_models(
    backend: LocalBackend,
    filter_text: str | None,
    max_results: int | None,
    order_by: list[str],
    page_token: str | None,
) -> Found[ModelResponse]:
    size = page_size(max_results, MODELS_DEFAULT, MODELS_MAX)
    conditions = _conditions(filters.parse(filter_text, filters.REGISTERED_MODELS))
    keys = ordering.parse(order_by, ordering.REGISTERED_MODELS)
    return _page(
        MODELS_SCOPE,
        filter_text,
        keys,
        page_token,
        size,
        lambda sorts, after, limit: backend.search_models(conditions, sorts, after, limit),
        _model_values,
    )


def search_versions(
    backend: LocalBackend,
    filter_text: str | None,
    max_results: int | None,
    order_by: list[str],
    page_token: str | None,
) -> Found[ModelVersionResponse]:
    size = page_size(max_results, VERSIONS_DEFAULT, VERSIONS_MAX)
    conditions = _conditions(filters.parse(filter_text, filters.MODEL_VERSIONS))
    keys = ordering.parse(order_by, ordering.MODEL_VERSIONS)
    return _page(
        VERSIONS_SCOPE,
        filter_text,
        keys,
        page_token,
        size,
        lambda sorts, after, limit: backend.search_model_versions(conditions, sorts, after, limit),
        _version_values,
    )


Read = Callable[[list[Sort], list[SortValue] | None, int], list[T]]


def _page(
    scope: str,
    filter_text: str | None,
    keys: tuple[ordering.OrderKey, ...],
    page_token: str | None,
    size: int,
    read: Read[T],
    values_of: Callable[[T], dict[str, SortValue]],
) -> Found[T]:
    fields = [key.field for key in keys]
    digest = paging.search_digest(scope, filter_text, keys)
    after = None
    if page_token:  # refused before anything is read
        last = paging.decode(page_token, scope, digest, [_TYPES[field] for field in fields])
        after = [_stored(field, value) for field, value in zip(fields, last, strict=True)]
    sorts = [Sort(_FIELDS[key.field], key.descending) for key in keys]
    rows = read(sorts, after, size + 1)
    shown = rows[:size]
    token = None
    if len(rows) > size:
        last_values = values_of(shown[-1])
        token = paging.encode(scope, digest, [_token_value(last_values[f]) for f in fields])
    return Found(shown, token)


def _stored(field: str, value: Any) -> SortValue:
    """A token's value as the read tables hold it (timestamps: microseconds since 1970)."""
    if field == "version_number" and not 0 <= value <= MAX_VERSION_NUMBER:
        raise ValidationError("Invalid page_token: pass a next_page_token as given.")
    if field not in _TIMESTAMPS:
        return value  # type: ignore[no-any-return]
    try:
        return _EPOCH + timedelta(microseconds=value)
    except OverflowError:  # no time a row can have: a forged token
        raise ValidationError("Invalid page_token: pass a next_page_token as given.") from None


def _token_value(value: SortValue) -> str | int:
    if isinstance(value, datetime):
        return (value - _EPOCH) // timedelta(microseconds=1)
    return value


def _model_values(model: ModelResponse) -> dict[str, SortValue]:
    return {
        "name": model.name,
        "creation_timestamp": model.created,
        "last_updated_timestamp": model.updated,
    }


def _version_values(version: ModelVersionResponse) -> dict[str, SortValue]:
    return {
        "name": version.model_name,
        "version_number": version.number,
        "creation_timestamp": version.created,
        "last_updated_timestamp": version.updated,
    }


def _conditions(clauses: Sequence[filters.Clause]) -> list[Condition]:
    return [
        Condition(
            field=clause.key if clause.kind == "tag" else _FIELDS[clause.key],
            comparator=clause.comparator,  # type: ignore[arg-type]
            value=clause.value,
            tag=clause.kind == "tag",
            missing_matches=clause.matches_missing,
        )
        for clause in clauses
    ]
