"""Time travel: the log position a moment denotes, and models and versions as they read then."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, RowMapping, and_, bindparam, func, or_, select

from modelplane.domain import stages
from modelplane.domain.errors import NotFoundError, ValidationError
from modelplane.domain.validation import check_moment

from ..tables import (
    event_index,
    model_names,
    models,
    stage_changes,
    stage_holders,
    version_states,
    versions,
)
from .ids import as_uuid
from .selectors import VersionSelector

M, V, VS, MN, EI = (
    models.c,
    versions.c,
    version_states.c,
    model_names.c,
    event_index.c,
)

# Every statement is built once with bind parameters: a read at a position runs five of
# them, and building them per call cost more than running them.
_P = bindparam("position", type_=EI.position.type)

_version_by_id = select(versions).where(V.id == bindparam("id"))
# Timestamps increase with position, so the last entry at or before a time in (timestamp,
# position) order is the greatest such position: one seek, backwards.
_last_at_time = (
    select(EI.position)
    .where(EI.timestamp <= bindparam("moment", type_=EI.timestamp.type))
    .order_by(EI.timestamp.desc(), EI.position.desc())
    .limit(1)
)
_head = select(func.max(EI.position))
_end_of_commit = select(func.max(EI.position)).where(
    EI.timestamp == select(EI.timestamp).where(EI.position == _P).scalar_subquery()
)
_alive_model = and_(
    M.registered_position <= _P, or_(M.deleted_position.is_(None), M.deleted_position > _P)
)
_model_alive_by_id = select(models).where(M.id == bindparam("id"), _alive_model)
# A live name has one holder at a time, so if any model had this name at that position, it
# is the last one to take it up to there (one seek on (name, position)); it had it still if
# it was alive and its last name up to there was it.
_model_named_at = select(models).where(
    M.id
    == select(MN.model_id)
    .where(MN.name == bindparam("name"), MN.position <= _P)
    .order_by(MN.position.desc())
    .limit(1)
    .scalar_subquery(),
    _alive_model,
    select(MN.name)
    .where(MN.model_id == M.id, MN.position <= _P)
    .order_by(MN.position.desc())
    .limit(1)
    .scalar_subquery()
    == bindparam("name"),
)
_name_at = (
    select(MN.name)
    .where(MN.model_id == bindparam("id"), MN.position <= _P)
    .order_by(MN.position.desc())
    .limit(1)
)
_existed = and_(
    V.model_id == bindparam("model_id"),
    V.created_position <= _P,
    or_(V.deleted_position.is_(None), V.deleted_position > _P),
)
# Numbers are allocated in log order, so the highest number alive then is the newest
# creation up to that position not deleted by then: a walk down ``mp_versions_created``
# from the position, past versions already deleted then.
_latest_at = select(versions).where(_existed).order_by(V.created_position.desc()).limit(1)
_number_at = select(versions).where(_existed, V.number == bindparam("number"))
_id_at = select(versions).where(_existed, V.id == bindparam("id"))
_holder_at = (
    select(stage_holders.c.version_id)
    .where(
        stage_holders.c.model_id == bindparam("model_id"),
        stage_holders.c.stage == bindparam("stage"),
        stage_holders.c.position <= _P,
    )
    .order_by(stage_holders.c.position.desc())
    .limit(1)
)
_stage_at = (
    select(stage_changes.c.stage)
    .where(stage_changes.c.version_id == bindparam("version_id"), stage_changes.c.position <= _P)
    .order_by(stage_changes.c.position.desc())
    .limit(1)
)


def _state_at(column: Any) -> Any:
    """The value a version's field had at a position (correlated with ``versions``)."""
    return (
        select(column)
        .where(VS.version_id == V.id, VS.position <= _P, column.is_not(None))
        .order_by(VS.position.desc())
        .limit(1)
        .scalar_subquery()
    )


_state_then = select(
    _state_at(VS.name).label("name"),
    _state_at(VS.description).label("description"),
    _state_at(VS.tags).label("tags"),
).where(V.id == bindparam("id"))
# The version whose name at that position was this one (names change on rename).
_named_at = select(versions).where(
    _existed,
    V.id.in_(
        select(VS.version_id).where(
            VS.model_id == bindparam("model_id"), VS.name == bindparam("name"), VS.position <= _P
        )
    ),
    _state_at(VS.name) == bindparam("name"),
)


def position_at(conn: Connection, moment: datetime | int) -> int:
    """The log position a moment denotes: what a reader saw then, a whole transaction at a time.

    A datetime selects every transaction visible at that time (event timestamps are taken
    under the write lock and increase with position: ``projections.clock``); a naive datetime
    is UTC, the one rule on every entry point. A position means the end of the transaction
    holding it (a reader never sees half of a forced promotion), and a position past the
    head means the head.
    """
    check_moment(moment)
    if isinstance(moment, bool) or not isinstance(moment, (int, datetime)):
        msg = f"'at' must be a datetime or a log position, not {moment!r}."
        raise ValidationError(msg)
    if isinstance(moment, datetime):
        return int(conn.execute(_last_at_time, {"moment": as_utc(moment)}).scalar() or 0)
    if moment < 0:
        raise ValidationError("A log position is a number >= 0.")
    head = int(conn.execute(_head).scalar() or 0)
    if moment >= head:
        return head
    if moment == 0:
        return 0
    return int(conn.execute(_end_of_commit, {"position": moment}).scalar() or moment)


def as_utc(moment: datetime) -> datetime:
    """A datetime in UTC; a naive one is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def model_row_at(conn: Connection, name_or_id: object, position: int) -> dict[str, Any]:
    """The model that had this name (or id) at a log position, with the name it had then
    (a past view must not show a name given later)."""
    uid = as_uuid(name_or_id)
    row = None
    if uid is not None:
        params = {"id": str(uid), "position": position}
        row = conn.execute(_model_alive_by_id, params).mappings().first()
    if row is None:
        params = {"name": str(name_or_id), "position": position}
        row = conn.execute(_model_named_at, params).mappings().first()
    if row is None:
        msg = f"No model named or with id '{name_or_id}' existed at log position {position}."
        raise NotFoundError(msg)
    then = conn.execute(_name_at, {"id": row["id"], "position": position}).scalar()
    return {**row, "name": then if then is not None else row["name"]}


def version_row_at(
    conn: Connection, model: Mapping[str, Any], selector: object, position: int
) -> tuple[RowMapping, str]:
    """The version a selector picked at a log position, and its stage then."""
    picked = VersionSelector.parse(selector)
    at = {"model_id": model["id"], "position": position}
    row: RowMapping | None = None
    if picked.kind == "latest":
        row = conn.execute(_latest_at, at).mappings().first()
    elif picked.kind == "stage":
        stage = picked.stage
        if not picked.exclusive:
            msg = (
                f"Several versions may be in stage '{stage}'; "
                "time travel needs staging or production."
            )
            raise ValidationError(msg)
        holder = conn.execute(_holder_at, {**at, "stage": stage}).scalar()
        if holder is not None:
            row = conn.execute(_version_by_id, {"id": holder}).mappings().first()
        if row is None:
            msg = (
                f"No version of model '{model['name']}' was in {stage} at log position {position}."
            )
            raise NotFoundError(msg)
        return version_state_at(conn, row, position), str(stage)
    elif picked.kind == "number":
        row = conn.execute(_number_at, {**at, "number": picked.number}).mappings().first()
    else:
        row = conn.execute(_named_at, {**at, "name": picked.text}).mappings().first()
        if row is None and picked.id is not None:
            row = conn.execute(_id_at, {**at, "id": str(picked.id)}).mappings().first()
    if row is None:
        msg = f"Model '{model['name']}' had no version '{picked.text}' at log position {position}."
        raise NotFoundError(msg)
    return version_state_at(conn, row, position), stage_of_at(conn, row["id"], position)


def version_state_at(conn: Connection, row: RowMapping, position: int) -> RowMapping:
    """A version's row as it read at a log position: its name, description and tags then."""
    params = {"id": row["id"], "position": position}
    then = conn.execute(_state_then, params).mappings().first()
    state = dict(row)
    if then is not None and then["name"] is not None:
        state.update(then)
        if state["tags"] is None:
            state["tags"] = []
    return state  # type: ignore[return-value]


def stage_of_at(conn: Connection, version_id: str, position: int) -> str:
    """The stage a version was in at a log position (its last stage change up to it)."""
    params = {"version_id": version_id, "position": position}
    return str(conn.execute(_stage_at, params).scalar() or stages.NONE)
