"""Models: a live one by name or id, every life a name had, pages of them."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    FromClause,
    RowMapping,
    Select,
    bindparam,
    false,
    func,
    select,
)

from modelplane.domain.errors import NotFoundError

from ..tables import counters, model_names, model_tags, models, versions
from .ids import as_uuid
from .paging import FIRST_PAGE, PageRows, Paging, position, read_page

M, V, MT = models.c, versions.c, model_tags.c

#: A model's row with the name of its latest live version (kept on the row by the fold, so
#: this is a primary-key join, not a scan of its versions).
MODEL_WITH_LATEST = select(models, V.name.label("latest_version_name")).outerjoin(
    versions, V.id == M.latest_version_id
)
_model_by_name = MODEL_WITH_LATEST.where(M.name == bindparam("name"), M.deleted == false())
_model_by_id = MODEL_WITH_LATEST.where(M.id == bindparam("id"))
_live_models = select(counters.c.value).where(counters.c.name == "live_models")

MODELS = "models"


def model_row(conn: Connection, name_or_id: object, *, deleted_ok: bool = False) -> RowMapping:
    """A live model by name or id (``deleted_ok``: a deleted one by id too)."""
    uid = as_uuid(name_or_id)
    if uid is not None:
        row = conn.execute(_model_by_id, {"id": str(uid)}).mappings().first()
        if row is not None and (deleted_ok or not row["deleted"]):
            return row
    if isinstance(name_or_id, str):
        row = conn.execute(_model_by_name, {"name": name_or_id}).mappings().first()
        if row is not None:
            return row
    msg = f"No model named or with id '{name_or_id}' exists."
    raise NotFoundError(msg)


def model_ids_ever_named(conn: Connection, name_or_id: object) -> list[str]:
    """Every model (live or deleted) that ever had this name, oldest first, or the one id."""
    uid = as_uuid(name_or_id)
    if uid is not None:
        found = conn.execute(select(M.id).where(M.id == str(uid))).scalars().all()
        if found:
            return list(found)
    query = (
        select(model_names.c.model_id)
        .where(model_names.c.name == str(name_or_id))
        .group_by(model_names.c.model_id)
        .order_by(func.min(model_names.c.position))
    )
    ids = list(conn.execute(query).scalars())
    if not ids:
        msg = f"No model named or with id '{name_or_id}' was ever registered."
        raise NotFoundError(msg)
    return ids


def list_models(
    conn: Connection,
    *,
    name: str | None = None,
    tag: str | None = None,
    paging: Paging = FIRST_PAGE,
) -> PageRows:
    """Live models matching a name substring and a tag, by name; with their total.

    Live names are unique, so the name is the keyset. With a tag, the page is a range of
    the tag's rows in ``mp_model_tags`` (which hold the model's name); without filters the
    total is the live model counter, otherwise a count run only if the total is read.
    """
    filters = (name, tag)
    start = position(paging, MODELS, filters, key_type=str)
    source: FromClause = models
    if tag is None:
        sort = M.name
        where: list[ColumnElement[bool]] = [M.deleted == false()]
    else:
        # a tag's rows are those of live models only
        sort, source = MT.name, model_tags
        where = [MT.tag == tag]
    if name:
        where.append(sort.contains(name, autoescape=True))
    total: int | Select[Any]
    if tag is None and not name:
        total = int(conn.execute(_live_models).scalar() or 0)
    else:
        total = select(func.count()).select_from(source).where(*where)

    def page_query(after: Any) -> Select[Any]:
        past = [] if after is None else [sort > after]
        if tag is None:
            return MODEL_WITH_LATEST.where(*where, *past).order_by(sort)
        # The page of tag rows first, then their models: a planner that expects few rows
        # for the tag (PostgreSQL before its statistics) then joins one page, not them all.
        page = (
            select(MT.model_id, MT.name)
            .where(*where, *past)
            .order_by(MT.name)
            .limit(paging.size + 1)
            .subquery()
        )
        return (
            MODEL_WITH_LATEST.join(page, M.id == page.c.model_id)
            .where(M.deleted == false())
            .order_by(page.c.name)
        )

    keys = select(sort).select_from(source).where(*where).order_by(sort)
    return read_page(
        conn,
        start,
        paging.size,
        MODELS,
        filters,
        page_query,
        keys,
        lambda row: row["name"],
        total,
    )
