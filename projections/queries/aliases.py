"""Aliases: the version an alias names now or at a log position, a model's aliases, their
history.

The holder of an alias at position p is the version of its last ``mp_alias_history`` row at
or before p (one seek on (model, alias, position)), as a stage's holder is read from
``mp_stage_holders``; NULL there means nobody held it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, RowMapping, and_, bindparam, false, select

from ..tables import alias_history, aliases, models, versions

A, H, M, V = aliases.c, alias_history.c, models.c, versions.c

_P = bindparam("position", type_=H.position.type)

# The version an alias of a live model (by name) names now, with the model's name: the
# common lookup is one query. The alias table comes last in FROM: PostgreSQL locks the
# tables in that order (``tables.READ_LAST``).
_by_model_name = (
    select(versions, M.name.label("model_name"))
    .select_from(
        versions.join(models, M.id == V.model_id).join(
            aliases, and_(A.model_id == M.id, A.version_id == V.id)
        )
    )
    .where(M.name == bindparam("model_name"), M.deleted == false(), A.alias == bindparam("alias"))
)
_holder = select(A.version_id).where(
    A.model_id == bindparam("model_id"), A.alias == bindparam("alias")
)
_model_aliases = (
    select(A.alias, A.version_id).where(A.model_id == bindparam("model_id")).order_by(A.alias)
)
_holder_at = (
    select(H.version_id)
    .where(H.model_id == bindparam("model_id"), H.alias == bindparam("alias"), H.position <= _P)
    .order_by(H.position.desc())
    .limit(1)
)
# Each alias's last change at or before the position, kept if it left a holder.
_later = alias_history.alias("later")
_last_change_then = ~(
    select(_later.c.position)
    .where(
        _later.c.model_id == H.model_id,
        _later.c.alias == H.alias,
        _later.c.position > H.position,
        _later.c.position <= _P,
    )
    .exists()
)
_model_aliases_at = (
    select(H.alias, H.version_id)
    .where(
        H.model_id == bindparam("model_id"),
        H.position <= _P,
        H.version_id.is_not(None),
        _last_change_then,
    )
    .order_by(H.alias)
)


def version_row_by_alias(conn: Connection, model_name: object, alias: str) -> RowMapping | None:
    """The version an alias of the live model named ``model_name`` names now, with
    ``model_name`` (one query); None when there is none, or ``model_name`` is no name: the
    general path then answers, with the precise error."""
    if not isinstance(model_name, str):
        return None
    params = {"model_name": model_name, "alias": alias}
    return conn.execute(_by_model_name, params).mappings().first()


def alias_holder(conn: Connection, model_id: str, alias: str) -> str | None:
    """The version id an alias of the model names now."""
    found = conn.execute(_holder, {"model_id": model_id, "alias": alias}).scalar()
    return None if found is None else str(found)


def alias_holder_at(conn: Connection, model_id: str, alias: str, position: int) -> str | None:
    """The version id an alias of the model named at a log position."""
    params = {"model_id": model_id, "alias": alias, "position": position}
    found = conn.execute(_holder_at, params).scalar()
    return None if found is None else str(found)


def model_aliases(conn: Connection, model_id: str, position: int | None = None) -> dict[str, str]:
    """Alias -> version id of the model's aliases, now or at a log position, by alias."""
    if position is None:
        rows = conn.execute(_model_aliases, {"model_id": model_id})
    else:
        rows = conn.execute(_model_aliases_at, {"model_id": model_id, "position": position})
    return {str(alias): str(version_id) for alias, version_id in rows}


def alias_changes(
    conn: Connection, model_ids: Sequence[str], alias: str | None = None
) -> list[RowMapping]:
    """Every set, move and removal of the models' aliases (of one alias), in log order."""
    query = select(alias_history).where(H.model_id.in_(model_ids))
    if alias is not None:
        query = query.where(H.alias == alias)
    return list(conn.execute(query.order_by(H.position)).mappings())
