"""Queries over the read tables: everything the SDK, CLI and API read.

Only SQLAlchemy Core and the table definitions are imported here, so a process that only
reads (``modelplane model list``) never loads the event-sourcing machinery.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Connection,
    RowMapping,
    Table,
    and_,
    bindparam,
    func,
    or_,
    select,
)

from modelplane.domain import stages
from modelplane.domain.errors import NotFoundError, RegistryError, ValidationError
from modelplane.domain.names import as_number
from modelplane.domain.validation import check_moment

from .tables import (
    artifact_consumers,
    artifact_links,
    artifact_versions,
    event_index,
    metadata_values,
    model_names,
    models,
    run_steps,
    runs,
    stage_changes,
    stage_holders,
    version_states,
    versions,
)

M, V, VS = models.c, versions.c, version_states.c

_model_by_name = select(models).where(M.name == bindparam("name"), M.deleted.is_(False))
_model_by_id = select(models).where(M.id == bindparam("id"))
_version_by_stage = select(versions).where(
    V.model_id == bindparam("model_id"), V.stage == bindparam("stage"), V.deleted.is_(False)
)
_version_by_number = select(versions).where(
    V.model_id == bindparam("model_id"), V.number == bindparam("number")
)
_version_by_name = select(versions).where(
    V.model_id == bindparam("model_id"), V.name == bindparam("name"), V.deleted.is_(False)
)
_version_by_id = select(versions).where(V.id == bindparam("id"))
_latest_version = (
    select(versions)
    .where(V.model_id == bindparam("model_id"), V.deleted.is_(False))
    .order_by(V.number.desc())
    .limit(1)
)


def as_uuid(value: object) -> UUID | None:
    """The UUID a string or UUID denotes, or None if it is a name."""
    if isinstance(value, UUID):
        return value
    if isinstance(value, str) and len(value) in (32, 36):
        try:
            return UUID(value)
        except ValueError:
            return None
    return None


# ------------------------------------------------------------------------- models


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
    page: int = 1,
    size: int = 50,
) -> tuple[list[RowMapping], int]:
    """Live models matching a name substring and a tag, by name; with the total count."""
    where: list[ColumnElement[bool]] = [M.deleted.is_(False)]
    if name:
        where.append(M.name.contains(name, autoescape=True))
    rows_query = select(models).where(*where).order_by(M.name)
    if tag is None:
        total = conn.execute(select(func.count()).select_from(models).where(*where)).scalar_one()
        offset = (page - 1) * size
        rows = list(conn.execute(rows_query.limit(size).offset(offset)).mappings())
        return rows, int(total)
    # Tags are a JSON list: filter in Python, which is exact on both backends.
    matching = [row for row in conn.execute(rows_query).mappings() if tag in row["tags"]]
    return matching[(page - 1) * size : page * size], len(matching)


def latest_version_names(conn: Connection, model_ids: Sequence[str]) -> dict[str, str]:
    """The highest-numbered live version name of each model."""
    if not model_ids:
        return {}
    newest = (
        select(V.model_id, func.max(V.number).label("number"))
        .where(V.model_id.in_(model_ids), V.deleted.is_(False))
        .group_by(V.model_id)
        .subquery()
    )
    query = select(V.model_id, V.name).join(
        newest, and_(V.model_id == newest.c.model_id, V.number == newest.c.number)
    )
    return {row.model_id: row.name for row in conn.execute(query)}


# ----------------------------------------------------------------------- versions


_live_version_of_named_model = (
    select(versions, M.name.label("model_name"))
    .join(models, M.id == V.model_id)
    .where(M.name == bindparam("model_name"), M.deleted.is_(False), V.deleted.is_(False))
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
    if isinstance(selector, bool):
        return None
    if (number := as_number(selector)) is not None:
        params = {"model_name": model_name, "number": number}
        return conn.execute(_by_name_and_number, params).mappings().first()
    stage = stages_selector(selector)
    if stage in stages.EXCLUSIVE:
        params = {"model_name": model_name, "stage": stage}
        return conn.execute(_by_name_and_stage, params).mappings().first()
    return None


def version_row(conn: Connection, model: RowMapping, selector: object) -> RowMapping:
    """A live version of ``model`` by number, name, id, or stage selector (None = latest)."""
    model_id = model["id"]
    stage = stages_selector(selector)
    row: RowMapping | None
    if stage == stages.LATEST:
        row = conn.execute(_latest_version, {"model_id": model_id}).mappings().first()
        if row is None:
            msg = f"Model '{model['name']}' has no versions."
            raise NotFoundError(msg)
        return row
    if stage is not None:
        if stage not in stages.EXCLUSIVE:
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
    if (number := as_number(selector)) is not None:
        row = (
            conn.execute(_version_by_number, {"model_id": model_id, "number": number})
            .mappings()
            .first()
        )
    else:
        row = (
            conn.execute(_version_by_name, {"model_id": model_id, "name": str(selector)})
            .mappings()
            .first()
        )
        uid = as_uuid(selector)
        if row is None and uid is not None:
            row = conn.execute(_version_by_id, {"id": str(uid)}).mappings().first()
            if row is not None and row["model_id"] != model_id:
                row = None
    if row is None or row["deleted"]:
        msg = (
            f"No model version found for model `{model['name']}` with version "
            f"identifier `{selector}`."
        )
        raise NotFoundError(msg)
    return row


def stages_selector(selector: object) -> str | None:
    """The stage a version selector names (``latest`` for None), or None if it is not one."""
    if selector is None:
        return stages.LATEST
    value = getattr(selector, "value", selector)
    if isinstance(value, str) and value.lower() in stages.ALL:
        return value.lower()
    return None


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


def version_by_id(conn: Connection, version_id: object) -> RowMapping:
    uid = as_uuid(version_id)
    row = None if uid is None else conn.execute(_version_by_id, {"id": str(uid)}).mappings().first()
    if row is None or row["deleted"]:
        msg = f"No model version with id '{version_id}' exists."
        raise NotFoundError(msg)
    return row


_version_page = (
    select(versions)
    .where(V.model_id == bindparam("model_id"), V.deleted.is_(False))
    .order_by(V.number.desc())
    .limit(bindparam("limit"))
    .offset(bindparam("offset"))
)


def list_versions(
    conn: Connection,
    model: RowMapping,
    *,
    stage: str | None = None,
    tag: str | None = None,
    name: str | None = None,
    page: int = 1,
    size: int = 50,
) -> tuple[list[RowMapping], int]:
    """Live versions of a model, newest first, with the total count."""
    model_id = model["id"]
    offset = (page - 1) * size
    if stage is None and tag is None and not name:
        params = {"model_id": model_id, "limit": size, "offset": offset}
        rows = list(conn.execute(_version_page, params).mappings())
        return rows, int(model["live_versions"])
    where: list[ColumnElement[bool]] = [V.model_id == model_id, V.deleted.is_(False)]
    if stage is not None:
        where.append(V.stage == stage)
    if name:
        where.append(V.name.contains(name, autoescape=True))
    query = select(versions).where(*where).order_by(V.number.desc())
    if tag is None:
        total = conn.execute(select(func.count()).select_from(versions).where(*where)).scalar_one()
        rows = list(conn.execute(query.limit(size).offset(offset)).mappings())
        return rows, int(total)
    matching = [row for row in conn.execute(query).mappings() if tag in row["tags"]]
    return matching[(page - 1) * size : page * size], len(matching)


# ----------------------------------------------------------------------- metadata


def metadata_history(
    conn: Connection, subject_id: str, until: int | None = None
) -> dict[str, list[RowMapping]]:
    """Every value logged per key on a model version, artifact version or run, oldest first
    (up to log position ``until``: the metadata as it was then)."""
    query = (
        select(metadata_values)
        .where(metadata_values.c.subject_id == subject_id)
        .order_by(metadata_values.c.position)
    )
    if until is not None:
        query = query.where(metadata_values.c.position <= until)
    history: dict[str, list[RowMapping]] = {}
    for row in conn.execute(query).mappings():
        history.setdefault(row["key"], []).append(row)
    return history


# ------------------------------------------------------------------ history & time


def stage_history(conn: Connection, model_ids: Sequence[str]) -> list[RowMapping]:
    query = (
        select(stage_changes)
        .where(stage_changes.c.model_id.in_(model_ids))
        .order_by(stage_changes.c.position, stage_changes.c.version_name)
    )
    return list(conn.execute(query).mappings())


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
    ei = event_index.c
    if isinstance(moment, datetime):
        query = select(func.max(ei.position)).where(ei.timestamp <= as_utc(moment))
        return int(conn.execute(query).scalar() or 0)
    if moment < 0:
        raise ValidationError("A log position is a number >= 0.")
    head = int(conn.execute(select(func.max(ei.position))).scalar() or 0)
    if moment >= head:
        return head
    if moment == 0:
        return 0
    same_commit = select(ei.timestamp).where(ei.position == moment).scalar_subquery()
    query = select(func.max(ei.position)).where(ei.timestamp == same_commit)
    return int(conn.execute(query).scalar() or moment)


def as_utc(moment: datetime) -> datetime:
    """A datetime in UTC; a naive one is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def model_row_at(conn: Connection, name_or_id: object, position: int) -> RowMapping:
    """The model that had this name (or id) at a log position."""
    alive = and_(
        M.registered_position <= position,
        or_(M.deleted_position.is_(None), M.deleted_position > position),
    )
    uid = as_uuid(name_or_id)
    row = None
    if uid is not None:
        row = conn.execute(select(models).where(M.id == str(uid), alive)).mappings().first()
    if row is None:
        # The model whose name at that position (its last name row up to it) was this one.
        name_then = (
            select(model_names.c.name)
            .where(model_names.c.model_id == M.id, model_names.c.position <= position)
            .order_by(model_names.c.position.desc())
            .limit(1)
            .scalar_subquery()
        )
        query = select(models).where(alive, name_then == str(name_or_id))
        row = conn.execute(query).mappings().first()
    if row is None:
        msg = f"No model named or with id '{name_or_id}' existed at log position {position}."
        raise NotFoundError(msg)
    return row


def version_row_at(
    conn: Connection, model: RowMapping, selector: object, position: int
) -> tuple[RowMapping, str]:
    """The version a selector picked at a log position, and its stage then."""
    existed = and_(
        V.model_id == model["id"],
        V.created_position <= position,
        or_(V.deleted_position.is_(None), V.deleted_position > position),
    )
    stage = stages_selector(selector)
    row: RowMapping | None = None
    if stage == stages.LATEST:
        query = select(versions).where(existed).order_by(V.number.desc()).limit(1)
        row = conn.execute(query).mappings().first()
    elif stage is not None:
        if stage not in stages.EXCLUSIVE:
            msg = (
                f"Several versions may be in stage '{stage}'; "
                "time travel needs staging or production."
            )
            raise ValidationError(msg)
        holder = conn.execute(
            select(stage_holders.c.version_id)
            .where(
                stage_holders.c.model_id == model["id"],
                stage_holders.c.stage == stage,
                stage_holders.c.position <= position,
            )
            .order_by(stage_holders.c.position.desc())
            .limit(1)
        ).scalar()
        if holder is not None:
            row = conn.execute(_version_by_id, {"id": holder}).mappings().first()
        if row is None:
            msg = (
                f"No version of model '{model['name']}' was in {stage} at log position {position}."
            )
            raise NotFoundError(msg)
        return version_state_at(conn, row, position), stage
    elif (number := as_number(selector)) is not None:
        row = conn.execute(select(versions).where(existed, V.number == number)).mappings().first()
    else:
        # The version whose name at that position was this one (names change on rename).
        named = select(VS.version_id).where(
            VS.model_id == model["id"], VS.name == str(selector), VS.position <= position
        )
        query = select(versions).where(
            existed, V.id.in_(named), _state_at(VS.name, position) == str(selector)
        )
        row = conn.execute(query).mappings().first()
        uid = as_uuid(selector)
        if row is None and uid is not None:
            row = conn.execute(select(versions).where(existed, V.id == str(uid))).mappings().first()
    if row is None:
        msg = f"Model '{model['name']}' had no version '{selector}' at log position {position}."
        raise NotFoundError(msg)
    return version_state_at(conn, row, position), stage_of_at(conn, row["id"], position)


def _state_at(column: Any, position: int) -> Any:
    """The value a version's field had at a position (correlated with ``versions``)."""
    return (
        select(column)
        .where(VS.version_id == V.id, VS.position <= position, column.is_not(None))
        .order_by(VS.position.desc())
        .limit(1)
        .scalar_subquery()
    )


def version_state_at(conn: Connection, row: RowMapping, position: int) -> RowMapping:
    """A version's row as it read at a log position: its name, description and tags then."""
    then = (
        conn.execute(
            select(
                _state_at(VS.name, position).label("name"),
                _state_at(VS.description, position).label("description"),
                _state_at(VS.tags, position).label("tags"),
            )
            .select_from(versions)
            .where(V.id == row["id"])
        )
        .mappings()
        .first()
    )
    state = dict(row)
    if then is not None and then["name"] is not None:
        state.update(then)
        if state["tags"] is None:
            state["tags"] = []
    return state  # type: ignore[return-value]


def stage_of_at(conn: Connection, version_id: str, position: int) -> str:
    query = (
        select(stage_changes.c.stage)
        .where(stage_changes.c.version_id == version_id, stage_changes.c.position <= position)
        .order_by(stage_changes.c.position.desc())
        .limit(1)
    )
    return str(conn.execute(query).scalar() or stages.NONE)


# -------------------------------------------------------------------------- events


def event_positions(
    conn: Connection, model_ids: Sequence[str] | None, after: int, limit: int
) -> list[int]:
    query = select(event_index.c.position).where(event_index.c.position > after)
    if model_ids is not None:
        # the model's own events, those of its runs (steps, outputs, the end) and those of
        # the artifact versions linked to its versions (recorded, metadata logged on them)
        its_runs = select(runs.c.id).where(runs.c.model_id.in_(model_ids))
        its_artifacts = select(artifact_links.c.artifact_version_id).where(
            artifact_links.c.model_id.in_(model_ids)
        )
        query = query.where(
            or_(
                event_index.c.model_id.in_(model_ids),
                event_index.c.run_id.in_(its_runs),
                event_index.c.artifact_version_id.in_(its_artifacts),
            )
        )
    query = query.order_by(event_index.c.position).limit(limit)
    return [int(p) for p in conn.execute(query).scalars()]


def event_entries(conn: Connection, positions: Sequence[int]) -> dict[int, RowMapping]:
    if not positions:
        return {}
    query = select(event_index).where(event_index.c.position.in_(positions))
    return {int(row["position"]): row for row in conn.execute(query).mappings()}


def dump_tables(conn: Connection) -> dict[str, list[tuple[Any, ...]]]:
    """Every projection table's rows in a stable order (for comparing live and rebuilt)."""
    from .tables import metadata as table_metadata

    dumped: dict[str, list[tuple[Any, ...]]] = {}
    for table in table_metadata.sorted_tables:
        rows = conn.execute(select(table)).all()
        dumped[table.name] = sorted((tuple(row) for row in rows), key=repr)
    return dumped


def raw_events(
    conn: Connection,
    *,
    events_table: str,
    positions: Sequence[int] | None = None,
    after: int = 0,
    limit: int = 100,
) -> list[tuple[int, UUID, int, str, bytes]]:
    """Rows of the log itself (position, originator, version, topic, state), in order."""
    from sqlalchemy import column, table

    log = table(
        events_table,
        column("id"),
        column("originator_id"),
        column("originator_version"),
        column("topic"),
        column("state"),
    )
    query = select(
        log.c.id, log.c.originator_id, log.c.originator_version, log.c.topic, log.c.state
    )
    if positions is not None:
        if not positions:
            return []
        query = query.where(log.c.id.in_(positions))
    else:
        query = query.where(log.c.id > after).limit(limit)
    rows = []
    for pos, originator, version, topic, state in conn.execute(query.order_by(log.c.id)):
        if isinstance(originator, (bytes, memoryview)):
            originator = UUID(bytes=bytes(originator))
        elif not isinstance(originator, UUID):
            originator = UUID(str(originator))
        rows.append((int(pos), originator, int(version), str(topic), bytes(state)))
    return rows


# ------------------------------------------------------------------------ lineage


def artifact_version_row(
    conn: Connection, name_or_id: object, version: object = None
) -> RowMapping:
    """An artifact version by artifact name and version number (None = latest), or by id."""
    av = artifact_versions.c
    uid = as_uuid(name_or_id)
    row: RowMapping | None = None
    if uid is not None and version is None:
        row = conn.execute(select(artifact_versions).where(av.id == str(uid))).mappings().first()
    if row is None:
        query = select(artifact_versions).where(av.name == str(name_or_id))
        if version is None:
            query = query.order_by(av.number.desc()).limit(1)
        elif (number := as_number(version)) is not None:
            query = query.where(av.number == number)
        else:
            vid = as_uuid(version)
            query = query.where(av.id == str(vid or ""))
        row = conn.execute(query).mappings().first()
    if row is None and version is None:  # an id prefix, as in ZenML (never with a version)
        row = row_by_id_prefix(conn, artifact_versions, name_or_id, "artifact versions")
    if row is None:
        which = "any version" if version is None else f"version '{version}'"
        msg = f"No artifact named or with id '{name_or_id}' has {which}."
        raise NotFoundError(msg)
    return row


def list_artifact_versions(
    conn: Connection, *, name: str | None = None, page: int = 1, size: int = 50
) -> tuple[list[RowMapping], int]:
    av = artifact_versions.c
    where: list[ColumnElement[bool]] = []
    if name is not None:
        where.append(av.name == name)
    total = conn.execute(
        select(func.count()).select_from(artifact_versions).where(*where)
    ).scalar_one()
    query = (
        select(artifact_versions)
        .where(*where)
        .order_by(av.position.desc())
        .limit(size)
        .offset((page - 1) * size)
    )
    return list(conn.execute(query).mappings()), int(total)


def artifact_links_of(
    conn: Connection, model_version_id: str, until: int | None = None
) -> list[RowMapping]:
    """Every artifact version linked to a model version (up to log position ``until``)."""
    al = artifact_links.c
    query = (
        select(artifact_versions, al.kind.label("link_kind"), al.position.label("link_position"))
        .join(artifact_versions, artifact_versions.c.id == al.artifact_version_id)
        .where(al.model_version_id == model_version_id)
        .order_by(al.position)
    )
    if until is not None:
        query = query.where(al.position <= until)
    return list(conn.execute(query).mappings())


def run_row(conn: Connection, run_id: object) -> RowMapping:
    uid = as_uuid(run_id)
    row = None
    if uid is not None:
        row = conn.execute(select(runs).where(runs.c.id == str(uid))).mappings().first()
    if row is None:
        row = (
            conn.execute(
                select(runs).where(runs.c.name == str(run_id)).order_by(runs.c.position.desc())
            )
            .mappings()
            .first()
        )
    if row is None:  # neither an id nor a name: an id prefix, as in ZenML
        row = row_by_id_prefix(conn, runs, run_id, "pipeline runs")
    if row is None:
        msg = f"No pipeline run named, with id or with id prefix '{run_id}' exists."
        raise NotFoundError(msg)
    return row


def list_runs(
    conn: Connection,
    *,
    model_ids: Sequence[str] | None = None,
    model_version_id: str | None = None,
    status: str | None = None,
    page: int = 1,
    size: int = 50,
) -> tuple[list[RowMapping], int]:
    """Runs, newest first, filtered by model (any life), model version and status."""
    where: list[ColumnElement[bool]] = []
    if model_ids is not None:
        where.append(runs.c.model_id.in_(model_ids))
    if model_version_id is not None:
        where.append(runs.c.model_version_id == model_version_id)
    if status is not None:
        where.append(runs.c.status == status)
    total = conn.execute(select(func.count()).select_from(runs).where(*where)).scalar_one()
    query = (
        select(runs)
        .where(*where)
        .order_by(runs.c.position.desc())
        .limit(size)
        .offset((page - 1) * size)
    )
    return list(conn.execute(query).mappings()), int(total)


def run_steps_of(conn: Connection, run_id: str) -> list[RowMapping]:
    query = select(run_steps).where(run_steps.c.run_id == run_id).order_by(run_steps.c.position)
    return list(conn.execute(query).mappings())


def consumers_of(conn: Connection, artifact_version_id: str) -> list[RowMapping]:
    """The runs (and steps) that read an artifact version, in log order."""
    query = (
        select(artifact_consumers)
        .where(artifact_consumers.c.artifact_version_id == artifact_version_id)
        .order_by(artifact_consumers.c.position)
    )
    return list(conn.execute(query).mappings())


def runs_consuming_version(conn: Connection, model_version_id: str) -> list[RowMapping]:
    """Runs that consumed a model version: resolved it from a stage, or read one of its
    artifacts without being one of the runs that produced it."""
    linked = select(artifact_links.c.artifact_version_id).where(
        artifact_links.c.model_version_id == model_version_id
    )
    reading = select(artifact_consumers.c.run_id).where(
        artifact_consumers.c.artifact_version_id.in_(linked)
    )
    not_producer = or_(  # spelled out: NOT over a NULL model version would drop the row
        runs.c.model_version_id.is_(None),
        runs.c.model_version_id != model_version_id,
        runs.c.model_version_how == "stage",
    )
    from_stage = and_(
        runs.c.model_version_id == model_version_id, runs.c.model_version_how == "stage"
    )
    query = (
        select(runs)
        .where(or_(from_stage, and_(runs.c.id.in_(reading), not_producer)))
        .order_by(runs.c.position)
    )
    return list(conn.execute(query).mappings())


# ---------------------------------------------------------------------- id prefixes


class AmbiguousPrefixError(RegistryError, KeyError):
    """Raised when an id prefix matches several entities (ZenML raises a ``KeyError`` too)."""


_HEX_DIGITS = frozenset("0123456789abcdef")


def id_prefix(text: object) -> str | None:
    """``text`` as the start of a stored id (``str(uuid)``), or None if it is not an id prefix.

    As in ZenML, a prefix is hex digits with or without dashes (dashes are dropped, then put
    back where ``str(UUID)`` has them, so the lookup is a LIKE on the indexed id column);
    a full id is not a prefix (it is looked up exactly, before names and prefixes).
    """
    if not isinstance(text, str):
        return None
    digits = text.replace("-", "").lower()
    if not digits or len(digits) >= 32 or not set(digits) <= _HEX_DIGITS:
        return None
    groups = [digits[a:b] for a, b in ((0, 8), (8, 12), (12, 16), (16, 20), (20, 32))]
    return "-".join(group for group in groups if group)


def row_by_id_prefix(conn: Connection, table: Table, text: object, what: str) -> RowMapping | None:
    """The one row of ``table`` whose id starts with the prefix ``text``; None if none does.

    ``what`` names the entities in the plural ("pipeline runs") for the error raised when
    several ids share the prefix: which one was meant cannot be guessed.
    """
    prefix = id_prefix(text)
    if prefix is None:
        return None
    matching = table.c.id.startswith(prefix)
    count = conn.execute(select(func.count()).select_from(table).where(matching)).scalar_one()
    if count > 1:
        msg = f"{count} {what} have an id starting with '{text}'; use a longer prefix."
        raise AmbiguousPrefixError(msg)
    return conn.execute(select(table).where(matching)).mappings().first()
