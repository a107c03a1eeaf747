"""Model versions as they are now: one picked by a selector, by id, pages of them, and the
stage history of a model's versions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    RowMapping,
    Select,
    and_,
    bindparam,
    false,
    func,
    select,
    true,
)

from modelplane.domain.errors import NotFoundError, ValidationError

from ..tables import models, stage_changes, version_tags, versions
from .ids import as_uuid
from .paging import FIRST_PAGE, PageRows, Paging, Position, position, read_page
from .selectors import VersionSelector

M, V, VT, SC = models.c, versions.c, version_tags.c, stage_changes.c

VERSIONS = "versions"

_version_by_stage = select(versions).where(
    V.model_id == bindparam("model_id"), V.deleted == false(), V.stage == bindparam("stage")
)
_version_by_number = select(versions).where(
    V.model_id == bindparam("model_id"), V.number == bindparam("number")
)
# Every row of a name (one live at most, any deleted), the live one picked in Python: with
# ``deleted`` in the WHERE clause (or an ORDER BY on it) SQLite's planner took another index
# and walked every live version of the model (22 ms at 100,000 versions).
_version_by_name = select(versions).where(
    V.model_id == bindparam("model_id"), V.name == bindparam("name")
)
_version_by_id = select(versions).where(V.id == bindparam("id"))

_live_version_of_named_model = (
    select(versions, M.name.label("model_name"))
    .join(models, M.id == V.model_id)
    .where(M.name == bindparam("model_name"), M.deleted == false(), V.deleted == false())
)
_by_name_and_number = _live_version_of_named_model.where(V.number == bindparam("number"))
_by_name_and_stage = _live_version_of_named_model.where(V.stage == bindparam("stage"))


def quick_version_row(conn: Connection, model_name: object, selector: object) -> RowMapping | None:
    """One query for the common lookups (a model's name with a number or an exclusive stage).

    None when the lookup is of another kind or finds nothing: the general path then answers,
    with the precise error.
    """
    if not isinstance(model_name, str) or as_uuid(model_name) is not None:
        return None
    picked = VersionSelector.parse(selector)
    if picked.kind == "number":
        params = {"model_name": model_name, "number": picked.number}
        return conn.execute(_by_name_and_number, params).mappings().first()
    if picked.exclusive:
        params = {"model_name": model_name, "stage": picked.stage}
        return conn.execute(_by_name_and_stage, params).mappings().first()
    return None


def version_row(conn: Connection, model: RowMapping, selector: object) -> RowMapping:
    """A live version of ``model`` by number, name, id, or stage selector (None = latest)."""
    model_id = model["id"]
    picked = VersionSelector.parse(selector)
    row: RowMapping | None
    if picked.kind == "latest":
        # the fold keeps the latest live version on the model's row
        latest = model["latest_version_id"]
        row = None
        if latest is not None:
            row = conn.execute(_version_by_id, {"id": latest}).mappings().first()
        if row is None:
            msg = f"Model '{model['name']}' has no versions."
            raise NotFoundError(msg)
        return row
    if picked.kind == "stage":
        stage = picked.stage
        if not picked.exclusive:
            msg = (
                f"Several versions of '{model['name']}' may be in stage '{stage}'; "
                f"list them with list_model_versions(stage='{stage}')."
            )
            raise ValidationError(msg)
        row = (
            conn.execute(_version_by_stage, {"model_id": model_id, "stage": stage})
            .mappings()
            .first()
        )
        if row is None:
            msg = (
                f"No model version found for model `{model['name']}` with version "
                f"identifier `{stage}`: no version is in {stage}."
            )
            raise NotFoundError(msg)
        return row
    if picked.kind == "number":
        row = (
            conn.execute(_version_by_number, {"model_id": model_id, "number": picked.number})
            .mappings()
            .first()
        )
    else:
        named = conn.execute(_version_by_name, {"model_id": model_id, "name": picked.text})
        row = next((r for r in named.mappings() if not r["deleted"]), None)
        if row is None and picked.id is not None:
            row = conn.execute(_version_by_id, {"id": str(picked.id)}).mappings().first()
            if row is not None and row["model_id"] != model_id:
                row = None
    if row is None or row["deleted"]:
        msg = (
            f"No model version found for model `{model['name']}` with version "
            f"identifier `{picked.text}`."
        )
        raise NotFoundError(msg)
    return row


_version_with_model_name = (
    select(versions, M.name.label("model_name"))
    .join(models, M.id == V.model_id)
    .where(V.id == bindparam("id"))
)


def version_with_model_name(
    conn: Connection, version_id: object, *, deleted_ok: bool = False
) -> RowMapping:
    """A version by id, with its model's name (one query, for reading back a write)."""
    uid = as_uuid(version_id)
    row = None
    if uid is not None:
        row = conn.execute(_version_with_model_name, {"id": str(uid)}).mappings().first()
    if row is None or (row["deleted"] and not deleted_ok):
        msg = f"No model version with id '{version_id}' exists."
        raise NotFoundError(msg)
    return row


def list_versions(
    conn: Connection,
    model: RowMapping,
    *,
    stage: str | None = None,
    tag: str | None = None,
    name: str | None = None,
    paging: Paging = FIRST_PAGE,
) -> PageRows:
    """Live versions of a model, newest first, with their total.

    The number is the keyset. Every filter reads an index range in number order: live
    versions (``mp_versions_live``), in a stage (``mp_versions_stage``), with a tag
    (``mp_version_tags``). Unfiltered, the total is the model's live version count; filtered,
    it is counted only if read.
    """
    model_id = model["id"]
    filters = (model_id, stage, tag, name)
    start = position(paging, VERSIONS, filters)
    source: FromClause = versions
    number = V.number
    if tag is None:
        where: list[ColumnElement[bool]] = [V.model_id == model_id, V.deleted == false()]
    else:
        # a tag's rows are those of the model's live versions only: the page is read from
        # that index range, each row joined to its version by id
        number, source = VT.number, version_tags.join(versions, V.id == VT.version_id)
        where = [VT.model_id == model_id, VT.tag == tag]
    if stage is not None:
        where.append(V.stage == stage)
    if name:
        where.append(V.name.contains(name, autoescape=True))
    unfiltered = stage is None and tag is None and not name
    # with only a tag, its index range alone answers the count and the keys
    tag_only = tag is not None and stage is None and not name
    counted = select(func.count()).where(*where)
    keys = select(number).where(*where).order_by(number.desc())
    if not tag_only:
        counted, keys = counted.select_from(source), keys.select_from(source)
    total: int | Select[Any] = int(model["live_versions"]) if unfiltered else counted
    if unfiltered and start.offset:
        # a page number: the key before it from the deleted numbers, if few were deleted
        start = _offset_as_key(conn, model_id, start)

    def page_query(after: Any) -> Select[Any]:
        past = [] if after is None else [number < after]
        if tag_only:
            # The page of tag rows first, then their versions: every planner reads the
            # tag's index range in order and stops after a page (PostgreSQL would otherwise
            # hash-join the model's versions when it expects few tagged ones).
            page = (
                select(VT.version_id, VT.number)
                .where(*where, *past)
                .order_by(VT.number.desc())
                .limit(paging.size + 1)
                .subquery()
            )
            return (
                select(versions)
                .join(page, V.id == page.c.version_id)
                .order_by(page.c.number.desc())
            )
        return select(versions).select_from(source).where(*where, *past).order_by(number.desc())

    return read_page(
        conn,
        start,
        paging.size,
        VERSIONS,
        filters,
        page_query,
        keys,
        lambda row: row["number"],
        total,
    )


#: Above this many deleted versions, a page number is read as an OFFSET.
MAX_DELETED_SCAN = 1_000

_top_number = select(func.max(V.number)).where(V.model_id == bindparam("model_id"))
_deleted_numbers = (
    select(V.number)
    .where(V.model_id == bindparam("model_id"), V.deleted == true())
    .order_by(V.number.desc())
    .limit(bindparam("limit"))
)


def _offset_as_key(conn: Connection, model_id: str, start: Position) -> Position:
    """A page number of a model's live versions as a keyset seek, when few were deleted.

    A model numbers its versions 1, 2, ... and keeps the rows of deleted ones, so the
    ``offset``-th live number from the top is ``top - offset``, moved down once for every
    deleted number at or above it: reading the deleted numbers (an index range) replaces
    walking ``offset`` live rows.
    """
    top = conn.execute(_top_number, {"model_id": model_id}).scalar()
    if top is None:
        return start
    params = {"model_id": model_id, "limit": MAX_DELETED_SCAN + 1}
    numbers = list(conn.execute(_deleted_numbers, params).scalars())
    if len(numbers) > MAX_DELETED_SCAN:
        return start
    if start.offset >= int(top):  # past the last page: a seek below 1 finds nothing (and a
        return Position((1,), 0, start.index)  # far-off page would not fit the number column)
    first = int(top) - start.offset
    for number in numbers:
        if number < first:
            break
        first -= 1
    return Position((first + 1,), 0, start.index)


def stage_history(
    conn: Connection,
    model_ids: Sequence[str],
    *,
    after: int | None = None,
    limit: int | None = None,
) -> list[RowMapping]:
    """The stage changes of the versions of these models (every life of a name), in order:
    those after log position ``after``, at most ``limit`` of them (None: all).

    A page never ends inside a log position: a model's deletion releases both stages at one
    position, and both rows come on the same page (so it may hold one more than ``limit``),
    and the next page starts ``after`` the last row's position.
    """
    query = select(stage_changes).where(SC.model_id.in_(model_ids))
    if after is not None:
        query = query.where(SC.position > after)
    query = query.order_by(SC.position, SC.version_name)
    if limit is None:
        return list(conn.execute(query).mappings())
    rows = list(conn.execute(query.limit(limit)).mappings())
    if len(rows) == limit:
        last = rows[-1]
        rest = select(stage_changes).where(
            SC.model_id.in_(model_ids),
            SC.position == last["position"],
            SC.version_name > last["version_name"],
        )
        rows += list(conn.execute(rest.order_by(SC.version_name)).mappings())
    return rows


#: the most model ids one read of ``newest_in_each_stage`` carries
_MODELS_PER_READ = 500


def newest_in_each_stage(conn: Connection, model_ids: Sequence[str]) -> list[RowMapping]:
    """The newest live version in each stage of each model (MLflow's ``latest_versions``),
    with its model's name: a seek per (model, stage) on ``mp_versions_stage``, whatever the
    number of versions, in one statement per 500 models."""
    rows: list[RowMapping] = []
    for start in range(0, len(model_ids), _MODELS_PER_READ):
        chunk = list(model_ids[start : start + _MODELS_PER_READ])
        newest = (
            select(V.model_id, V.stage, func.max(V.number).label("number"))
            .where(V.model_id.in_(chunk), V.deleted == false())
            .group_by(V.model_id, V.stage)
            .subquery()
        )
        query = (
            select(versions, M.name.label("model_name"))
            .join(newest, and_(V.model_id == newest.c.model_id, V.number == newest.c.number))
            .join(models, M.id == V.model_id)
        )
        rows += conn.execute(query).mappings().all()
    return rows
