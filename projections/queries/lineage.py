"""Lineage: artifact versions, what they are linked to, pipeline runs and who consumed what."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Connection, RowMapping, Select, and_, func, or_, select

from modelplane.domain.errors import NotFoundError
from modelplane.domain.names import as_number

from ..tables import (
    artifact_consumers,
    artifact_links,
    artifact_versions,
    artifacts,
    run_steps,
    runs,
)
from .ids import as_uuid, row_by_id_prefix
from .paging import FIRST_PAGE, PageRows, Paging, position, read_page

ARTIFACT_VERSIONS = "artifact_versions"
RUNS = "runs"


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
            # numbers follow the log within a name: the newest is one seek on (name, position)
            query = query.order_by(av.position.desc()).limit(1)
        elif (number := as_number(version)) is not None:
            named = select(artifacts.c.id).where(artifacts.c.name == str(name_or_id))
            query = query.where(av.artifact_id == named.scalar_subquery(), av.number == number)
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
    conn: Connection, *, name: str | None = None, paging: Paging = FIRST_PAGE
) -> PageRows:
    """Artifact versions (of one artifact name, if given), newest first, with their total.

    The log position is the keyset. An artifact's versions are numbered 1, 2, ... and never
    deleted, so one name's total is its latest number; all versions are counted only if the
    total is read.
    """
    av = artifact_versions.c
    filters = (name,)
    start = position(paging, ARTIFACT_VERSIONS, filters)
    where: list[ColumnElement[bool]] = []
    total: int | Select[Any]
    if name is not None:
        where.append(av.name == name)
        latest = select(artifacts.c.latest_number).where(artifacts.c.name == name)
        total = int(conn.execute(latest).scalar() or 0)
    else:
        total = select(func.count()).select_from(artifact_versions)

    def page_query(after: Any) -> Select[Any]:
        past = [] if after is None else [av.position < after]
        return select(artifact_versions).where(*where, *past).order_by(av.position.desc())

    keys = select(av.position).where(*where).order_by(av.position.desc())
    return read_page(
        conn,
        start,
        paging.size,
        ARTIFACT_VERSIONS,
        filters,
        page_query,
        keys,
        lambda row: row["position"],
        total,
    )


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
    """A pipeline run by id, by name (the newest of that name) or by an unambiguous id prefix."""
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
    paging: Paging = FIRST_PAGE,
) -> PageRows:
    """Runs, newest first, filtered by model (any life), model version and status; the log
    position is the keyset, and the total is counted only if read."""
    where: list[ColumnElement[bool]] = []
    if model_ids is not None:
        where.append(runs.c.model_id.in_(model_ids))
    if model_version_id is not None:
        where.append(runs.c.model_version_id == model_version_id)
    if status is not None:
        where.append(runs.c.status == status)
    filters = (sorted(model_ids) if model_ids is not None else None, model_version_id, status)
    start = position(paging, RUNS, filters)
    total = select(func.count()).select_from(runs).where(*where)

    def page_query(after: Any) -> Select[Any]:
        past = [] if after is None else [runs.c.position < after]
        return select(runs).where(*where, *past).order_by(runs.c.position.desc())

    keys = select(runs.c.position).where(*where).order_by(runs.c.position.desc())
    return read_page(
        conn, start, paging.size, RUNS, filters, page_query, keys, lambda r: r["position"], total
    )


def run_steps_of(conn: Connection, run_id: str) -> list[RowMapping]:
    """A run's steps, in the order they were recorded."""
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
