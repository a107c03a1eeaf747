"""``LocalBackend``: every use case of the registry, over a store on this machine.

The SDK runs it in local mode, and the HTTP server runs it behind each route (with the
token's name as actor and the token's role), so a behaviour and its checks are written here
once. Commands go to the domain ``Registry`` (``store.registry``), queries to the read tables
(``store.read()``); a command that answers with an object reads it back after the write.

The caller's role is checked first in every method, before anything is read or written:
queries need ``read``, commands ``write``, tokens and rebuilding the read tables ``admin``.
Moving a version into or out of a protected stage (``production`` on a server, typically)
needs ``admin`` as well.

SQLAlchemy, the read side and the event-sourced application are imported inside the methods
that use them: ``Client()`` builds a backend, and must stay cheap to import and construct.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

from modelplane.domain import stages
from modelplane.domain.errors import NotFoundError, PermissionDeniedError, ValidationError
from modelplane.domain.model_card import DESCRIPTIVE_FIELDS
from modelplane.domain.stages import selected_stage
from modelplane.domain.validation import (
    check_int64,
    check_paging,
    decode_event_payload,
    decode_metadata,
    decode_value,
)

from .. import config
from ..enums import ModelStages
from ..responses import (
    AliasChange,
    ArtifactConsumer,
    ArtifactVersionResponse,
    LinkedArtifact,
    LoggedEvent,
    MetadataEntry,
    MetadataValue,
    ModelResponse,
    ModelVersionResponse,
    Page,
    PipelineRunResponse,
    ReplayResult,
    StageChange,
    StepRunResponse,
    TokenResponse,
)
from .interface import (
    ADMIN,
    READ,
    ROLES,
    WRITE,
    Backend,
    CreatedToken,
    LogPage,
    PageRequest,
    StoredEventRow,
    VersionSelector,
)

if TYPE_CHECKING:
    from sqlalchemy import Connection, RowMapping

    from modelplane.projections.queries.labels import ModelLabels, VersionLabels
    from modelplane.projections.queries.paging import PageRows, Paging
    from modelplane.projections.queries.searches import Condition, Sort, SortValue

    from ..artifacts.content_store import ArtifactStore, StoredArtifact
    from ..store_handle import Store
    from ..webhooks.responses import CreatedWebhook, WebhookDelivery, WebhookResponse

#: The log table the eventsourcing library writes for the application named "modelplane".
EVENTS_TABLE = "modelplane_events"
T = TypeVar("T")
_STAGES = {stage.value: stage for stage in ModelStages}
#: ``scheme://user:password@``: the password is never shown in ``location``
_PASSWORD = re.compile(r"(?P<head>//[^/:@]*):[^/@]*@")


class LocalBackend(Backend):
    """The registry in ``store``, used by ``actor`` with ``role``.

    ``actor`` is a name, or a function called once per command (local mode passes
    ``config.actor``, which checks ``MODELPLANE_ACTOR`` every time, so a bad one is refused
    before anything is appended). ``protected_stages`` are the stages only ``admin`` may move
    versions into or out of.
    """

    def __init__(
        self,
        store: Store,
        actor: str | Callable[[], str],
        role: str = ADMIN,
        protected_stages: frozenset[str] = frozenset(),
    ) -> None:
        if role not in ROLES:
            msg = f"'{role}' is not a role; use one of: {', '.join(ROLES)}."
            raise ValidationError(msg)
        self._store = store
        self._actor = actor
        self._role = role
        self._protected = frozenset(stages.assignable_stage(s) for s in protected_stages)
        self._artifacts: ArtifactStore | None = None

    @classmethod
    def of_environment(cls) -> LocalBackend:
        """The store ``MODELPLANE_STORE_URL`` / ``MODELPLANE_HOME`` name (one handle per store
        per process), acting as ``MODELPLANE_ACTOR`` or the OS user, with every role: the
        owner of a local store may do anything to it."""
        from ..store_handle import Store

        return cls(Store.current(), config.actor)

    @property
    def actor(self) -> str:
        return self._actor() if callable(self._actor) else self._actor

    @property
    def location(self) -> str:
        return _PASSWORD.sub(r"\g<head>:***@", self._store.url)

    @property
    def store(self) -> Store:
        """The store this backend reads and writes (tests, replay and tokens reach it)."""
        return self._store

    @contextmanager
    def atomic(self) -> Iterator[None]:
        """Several writes as one: all of their events reach the log, or none do (an MLflow
        creation and the tags it carries)."""
        with self._store.registry.atomic():
            yield

    @property
    def role(self) -> str:
        return self._role

    @property
    def protected_stages(self) -> frozenset[str]:
        return self._protected

    @property
    def artifact_store(self) -> ArtifactStore:
        """The folder artifacts are stored in (``MODELPLANE_HOME/artifacts`` when first used)."""
        if self._artifacts is None:
            from ..artifacts.content_store import ArtifactStore

            self._artifacts = ArtifactStore()
        return self._artifacts

    # ------------------------------------------------------------------- roles

    def _allow(self, needed: str, doing: str) -> None:
        """Refuse the call unless the caller's role includes ``needed``; called first thing."""
        if ROLES.index(self._role) < ROLES.index(needed):
            msg = f"{doing} needs the {needed} role; this caller has the {self._role} role."
            raise PermissionDeniedError(msg)

    def _refuse_protected(self, stage: str, doing: str) -> None:
        msg = (
            f"{doing} '{stage}' needs the admin role; this caller has the {self._role} role "
            f"('{stage}' is a protected stage here)."
        )
        raise PermissionDeniedError(msg)

    def _check_stage_move(self, version_id: UUID, stage: object) -> None:
        """Refuse a non-admin move into or out of a protected stage.

        A forced promotion archives the target stage's holder, moving it out of that same
        stage: refusing a protected target refuses that displacement too.
        """
        if not self._protected or self._role == ADMIN:
            return
        target = stages.assignable_stage(stage)
        with self._store.read() as conn:
            # a deleted version is left to the registry to refuse, in its own words
            current = _version_with_model(conn, version_id, deleted_ok=True)["stage"]
        for touched in (target, current):
            if touched in self._protected:
                self._refuse_protected(touched, "Moving a version into or out of")

    # ------------------------------------------------------------------ models

    def create_model(
        self, name: str, fields: dict[str, str | None], tags: Iterable[str] | None
    ) -> ModelResponse:
        self._allow(WRITE, "Registering a model")
        created = self._store.registry.register_model(
            name, fields=fields, tags=tags, actor=self.actor
        )
        from modelplane.projections.queries.labels import ModelLabels
        from modelplane.projections.queries.models import model_row

        with self._store.read() as conn:
            row = model_row(conn, created.id)
        return _model(row, ModelLabels())  # a model just made has no aliases or key-value tags

    def get_model(self, model_name_or_id: str | UUID) -> ModelResponse:
        self._allow(READ, "Reading a model")
        from modelplane.projections.queries.models import model_row

        with self._store.read() as conn:
            row = model_row(conn, model_name_or_id)
            return _models(conn, [row])[0]

    def list_models(
        self, name: str | None, tag: str | None, paging: PageRequest
    ) -> Page[ModelResponse]:
        self._allow(READ, "Listing models")
        from modelplane.projections.queries.models import list_models

        wanted = _paging(paging)
        with self._store.read() as conn:
            found = list_models(conn, name=name, tag=tag, paging=wanted)
            items = _models(conn, found.rows)
        return self._page(found, items, wanted.size)

    def search_models(
        self,
        conditions: Sequence[Condition],
        sorts: Sequence[Sort],
        after: Sequence[SortValue] | None,
        limit: int,
    ) -> list[ModelResponse]:
        """Live models passing every condition, in the order of ``sorts``, the first
        ``limit`` after the key ``after`` (the MLflow API's searches stand on this)."""
        self._allow(READ, "Searching models")
        from modelplane.projections.queries.searches import search_model_rows

        with self._store.read() as conn:
            rows = search_model_rows(conn, conditions, sorts, after, limit)
            return _models(conn, rows)

    def search_model_versions(
        self,
        conditions: Sequence[Condition],
        sorts: Sequence[Sort],
        after: Sequence[SortValue] | None,
        limit: int,
    ) -> list[ModelVersionResponse]:
        """The same over live versions of live models, of any number of models."""
        self._allow(READ, "Searching model versions")
        from modelplane.projections.queries.searches import search_version_rows

        with self._store.read() as conn:
            rows = search_version_rows(conn, conditions, sorts, after, limit)
            return self._versions_of_models(conn, rows)

    def newest_versions_by_stage(
        self, model_ids: Sequence[UUID]
    ) -> dict[UUID, dict[str, ModelVersionResponse]]:
        """Each model's newest live version in each stage that has one (MLflow's
        ``latest_versions``), for a page of models in one read."""
        self._allow(READ, "Reading model versions")
        from modelplane.projections.queries.versions import newest_in_each_stage

        with self._store.read() as conn:
            rows = newest_in_each_stage(conn, [str(model_id) for model_id in model_ids])
            found = self._versions_of_models(conn, rows)
        newest: dict[UUID, dict[str, ModelVersionResponse]] = {i: {} for i in model_ids}
        for version in found:
            newest[version.model_id][str(version.stage)] = version
        return newest

    def update_model(
        self,
        model_name_or_id: str | UUID,
        name: str | None,
        fields: dict[str, str],
        add_tags: Iterable[str] | None,
        remove_tags: Iterable[str] | None,
    ) -> ModelResponse:
        self._allow(WRITE, "Updating a model")
        model_id = self._model_id(model_name_or_id)
        self._store.registry.update_model(
            model_id,
            name=name,
            fields=fields,
            add_tags=add_tags,
            remove_tags=remove_tags,
            actor=self.actor,
        )
        return self.get_model(model_id)

    def delete_model(self, model_name_or_id: str | UUID, reason: str | None) -> None:
        self._allow(WRITE, "Deleting a model")
        model_id = self._model_id(model_name_or_id)
        if self._protected and self._role != ADMIN:
            # its versions leave their stages with it
            for stage in self._held_stages(model_id) & self._protected:
                self._refuse_protected(stage, "Deleting a model with a version in")
        self._store.registry.delete_model(model_id, actor=self.actor, reason=reason)

    def model_lives(self, model_name_or_id: str | UUID) -> list[ModelResponse]:
        self._allow(READ, "Reading a model's history")
        from modelplane.projections.queries.models import model_ids_ever_named, model_row

        with self._store.read() as conn:
            ids = model_ids_ever_named(conn, model_name_or_id)
            return _models(conn, [model_row(conn, i, deleted_ok=True) for i in ids])

    def model_name_history(self, model_id: UUID) -> list[tuple[int, str]]:
        self._allow(READ, "Reading a model's names")
        from sqlalchemy import select

        from modelplane.projections.tables import model_names

        query = (
            select(model_names.c.position, model_names.c.name)
            .where(model_names.c.model_id == str(model_id))
            .order_by(model_names.c.position)
        )
        with self._store.read() as conn:
            return [(int(p), str(n)) for p, n in conn.execute(query)]

    def model_id_for_name(self, name: str) -> UUID | None:
        self._allow(READ, "Looking up a model")
        return self._store.registry.model_id_for_name(name)

    # ---------------------------------------------------------------- versions

    def create_model_version(
        self,
        model_name_or_id: str | UUID,
        name: str | None,
        description: str | None,
        tags: Iterable[str] | None,
        source: str | None = None,
        run_id: str | None = None,
        run_link: str | None = None,
    ) -> ModelVersionResponse:
        self._allow(WRITE, "Creating a model version")
        model_id = self._model_id(model_name_or_id)
        created = self._store.registry.create_version(
            model_id,
            name=name,
            description=description,
            tags=tags,
            source=source,
            run_id=run_id,
            run_link=run_link,
            actor=self.actor,
        )
        from modelplane.projections.queries.labels import VersionLabels

        with self._store.read() as conn:
            row = _version_with_model(conn, created.id)
        # a version just made has no aliases or key-value tags: no labels to read
        return self._version_response(row, row["model_name"], None, None, None, VersionLabels())

    def get_model_version(
        self,
        model_name_or_id: str | UUID,
        selector: VersionSelector,
        at: datetime | int | None = None,
    ) -> ModelVersionResponse:
        self._allow(READ, "Reading a model version")
        from modelplane.projections.queries.models import model_row
        from modelplane.projections.queries.time_travel import (
            model_row_at,
            position_at,
            version_row_at,
        )
        from modelplane.projections.queries.versions import quick_version_row, version_row

        with self._store.read() as conn:
            if at is None:
                quick = quick_version_row(conn, model_name_or_id, selector)
                if quick is not None:
                    return self._version(conn, quick, quick["model_name"])
                model = model_row(conn, model_name_or_id)
                row = version_row(conn, model, selector)
                return self._version(conn, row, model["name"])
            position = position_at(conn, at)
            model_then = model_row_at(conn, model_name_or_id, position)
            row, stage_then = version_row_at(conn, model_then, selector, position)
            return self._version(conn, row, model_then["name"], stage=stage_then, as_of=position)

    def get_model_version_by_id(
        self, version_id: UUID | str, deleted_ok: bool = False
    ) -> ModelVersionResponse:
        self._allow(READ, "Reading a model version")
        with self._store.read() as conn:
            row = _version_with_model(conn, version_id, deleted_ok=deleted_ok)
            return self._version(conn, row, row["model_name"])

    def list_model_versions(
        self,
        model_name_or_id: str | UUID,
        stage: str | None,
        tag: str | None,
        name: str | None,
        paging: PageRequest,
    ) -> Page[ModelVersionResponse]:
        self._allow(READ, "Listing model versions")
        from modelplane.projections.queries.models import model_row
        from modelplane.projections.queries.versions import list_versions

        wanted = _paging(paging)
        stage_filter = None if stage is None else _stage_filter(stage)
        with self._store.read() as conn:
            model = model_row(conn, model_name_or_id)
            found = list_versions(
                conn, model, stage=stage_filter, tag=tag, name=name, paging=wanted
            )
            items = self._versions(conn, found.rows, model["name"], UUID(model["id"]))
        return self._page(found, items, wanted.size)

    def update_model_version(
        self,
        version_id: UUID,
        *,
        stage: str | None = None,
        force: bool = False,
        expected_holder: str | int | UUID | None = None,
        reason: str | None = None,
        name: str | None = None,
        description: str | None = None,
        add_tags: Iterable[str] | None = None,
        remove_tags: Iterable[str] | None = None,
    ) -> ModelVersionResponse:
        self._allow(WRITE, "Changing a model version")
        if stage is not None:
            self._check_stage_move(version_id, stage)
        # One command: a rename, tags and a promotion are appended together or not at all.
        self._store.registry.update_version(
            version_id,
            name=name,
            description=description,
            add_tags=add_tags,
            remove_tags=remove_tags,
            stage=stage,
            force=force,
            expected_holder=expected_holder,
            reason=reason,
            actor=self.actor,
        )
        return self.get_model_version_by_id(version_id)

    def delete_model_version(self, version_id: UUID | str, reason: str | None) -> None:
        self._allow(WRITE, "Deleting a model version")
        from modelplane.projections.queries.ids import as_uuid

        uid = as_uuid(version_id)
        if uid is None:
            msg = f"'{version_id}' is not a model version id."
            raise NotFoundError(msg)
        if self._protected and self._role != ADMIN:
            with self._store.read() as conn:
                row = _version_with_model(conn, uid, deleted_ok=True)
            if not row["deleted"] and row["stage"] in self._protected:  # the registry refuses
                self._refuse_protected(row["stage"], "Deleting a version in")  # a deleted one
        self._store.registry.delete_version(uid, actor=self.actor, reason=reason)

    # ------------------------------------------------- aliases, key-value tags

    def set_model_version_alias(
        self,
        model_name_or_id: str | UUID,
        version: VersionSelector,
        alias: str,
        reason: str | None = None,
    ) -> ModelVersionResponse:
        self._allow(WRITE, "Setting an alias")
        from modelplane.domain.aliases import check_alias
        from modelplane.projections.queries.models import model_row
        from modelplane.projections.queries.versions import version_row

        alias = check_alias(alias)  # refused before any lookup, as the command would
        with self._store.read() as conn:
            model = model_row(conn, model_name_or_id)
            version_id = UUID(version_row(conn, model, version)["id"])
        self._store.registry.set_alias(
            UUID(model["id"]), version_id, alias, actor=self.actor, reason=reason
        )
        return self.get_model_version_by_id(version_id)

    def delete_model_version_alias(
        self, model_name_or_id: str | UUID, alias: str, reason: str | None = None
    ) -> None:
        self._allow(WRITE, "Removing an alias")
        from modelplane.domain.aliases import check_alias

        alias = check_alias(alias)
        model_id = self._model_id(model_name_or_id)
        self._store.registry.remove_alias(model_id, alias, actor=self.actor, reason=reason)

    def get_model_version_by_alias(
        self, model_name_or_id: str | UUID, alias: str, at: datetime | int | None = None
    ) -> ModelVersionResponse:
        self._allow(READ, "Reading a model version")
        from modelplane.domain.aliases import check_alias
        from modelplane.projections.queries import aliases
        from modelplane.projections.queries.models import model_row

        alias = check_alias(alias)
        if at is not None:
            position, model_then, held = self._aliases_then(model_name_or_id, at)
            if alias not in held:
                msg = (
                    f"Model '{model_then['name']}' had no alias '{alias}' at log position "
                    f"{position}."
                )
                raise NotFoundError(msg)
            return self._versions_then([held[alias]], model_then["name"], position)[0]
        with self._store.read() as conn:
            quick = aliases.version_row_by_alias(conn, model_name_or_id, alias)
            if quick is not None:
                return self._version(conn, quick, quick["model_name"])
            model = model_row(conn, model_name_or_id)
            holder = aliases.alias_holder(conn, model["id"], alias)
            if holder is None:
                raise NotFoundError(f"Model '{model['name']}' has no alias '{alias}'.")
            row = _version_with_model(conn, holder)
            return self._version(conn, row, model["name"])

    def list_model_aliases(
        self, model_name_or_id: str | UUID, at: datetime | int | None = None
    ) -> dict[str, ModelVersionResponse]:
        self._allow(READ, "Reading a model's aliases")
        from sqlalchemy import select

        from modelplane.projections.queries.aliases import model_aliases
        from modelplane.projections.queries.models import model_row
        from modelplane.projections.tables import versions

        if at is not None:
            position, model_then, held = self._aliases_then(model_name_or_id, at)
            found = self._versions_then(sorted(set(held.values())), model_then["name"], position)
        else:
            with self._store.read() as conn:
                model = model_row(conn, model_name_or_id)
                held = model_aliases(conn, model["id"])
                if not held:
                    return {}
                query = select(versions).where(versions.c.id.in_(sorted(set(held.values()))))
                rows = list(conn.execute(query).mappings())
                found = self._versions(conn, rows, model["name"])
        by_id = {str(version.id): version for version in found}
        return {alias: by_id[version_id] for alias, version_id in held.items()}

    def _aliases_then(
        self, model_name_or_id: str | UUID, at: datetime | int
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        """The position ``at`` denotes, the model as it was then and its aliases then
        (alias -> version id). Read on their own: what the log held up to a past position
        never changes, and reading the versions after the alias tables, in the same
        transaction, would take their locks out of order (``tables.READ_LAST``)."""
        from modelplane.projections.queries import time_travel
        from modelplane.projections.queries.aliases import model_aliases

        with self._store.read() as conn:
            position = time_travel.position_at(conn, at)
            model = time_travel.model_row_at(conn, model_name_or_id, position)
            return position, model, model_aliases(conn, model["id"], position)

    def _versions_then(
        self, version_ids: Sequence[str], model_name: str, position: int
    ) -> list[ModelVersionResponse]:
        """Versions of one model (deleted since, or not) as they were at a log position:
        their rows, stages and states then, and last their labels (``tables.READ_LAST``)."""
        from modelplane.projections.queries import time_travel

        with self._store.read() as conn:
            rows = [_version_with_model(conn, v, deleted_ok=True) for v in version_ids]
            stages_then = [time_travel.stage_of_at(conn, v, position) for v in version_ids]
            rows = [time_travel.version_state_at(conn, row, position) for row in rows]
            return self._versions(conn, rows, model_name, as_of=position, stages=stages_then)

    def get_alias_history(
        self, model_name_or_id: str | UUID, alias: str | None = None
    ) -> list[AliasChange]:
        self._allow(READ, "Reading alias history")
        from modelplane.domain.aliases import check_alias
        from modelplane.projections.queries.aliases import alias_changes
        from modelplane.projections.queries.models import model_ids_ever_named

        if alias is not None:
            alias = check_alias(alias)
        with self._store.read() as conn:
            model_ids = model_ids_ever_named(conn, model_name_or_id)
            rows = alias_changes(conn, model_ids, alias)
        return [
            AliasChange(
                position=int(r["position"]),
                timestamp=r["timestamp"],
                model_id=UUID(r["model_id"]),
                alias=r["alias"],
                version_id=_uuid_or_none(r["version_id"]),
                version_number=r["version_number"],
                previous_version_id=_uuid_or_none(r["previous_version_id"]),
                previous_version_number=r["previous_version_number"],
                actor=r["actor"],
                reason=r["reason"],
            )
            for r in rows
        ]

    def set_model_tag(self, model_name_or_id: str | UUID, key: str, value: str) -> None:
        self._allow(WRITE, "Setting a model's tag")
        model_id = self._model_id(model_name_or_id)
        self._store.registry.set_model_key_value_tag(model_id, key, value, actor=self.actor)

    def delete_model_tag(self, model_name_or_id: str | UUID, key: str) -> None:
        self._allow(WRITE, "Deleting a model's tag")
        model_id = self._model_id(model_name_or_id)
        self._store.registry.delete_model_key_value_tag(model_id, key, actor=self.actor)

    def set_model_version_tag(self, version_id: UUID | str, key: str, value: str) -> None:
        self._allow(WRITE, "Setting a model version's tag")
        uid = _version_uuid(version_id)
        self._store.registry.set_version_key_value_tag(uid, key, value, actor=self.actor)

    def delete_model_version_tag(self, version_id: UUID | str, key: str) -> None:
        self._allow(WRITE, "Deleting a model version's tag")
        uid = _version_uuid(version_id)
        self._store.registry.delete_version_key_value_tag(uid, key, actor=self.actor)

    # --------------------------------------------------------- history & audit

    def get_stage_history(
        self, model_name_or_id: str | UUID, after: int | None, limit: int | None
    ) -> list[StageChange]:
        self._allow(READ, "Reading stage history")
        from modelplane.projections.queries.models import model_ids_ever_named
        from modelplane.projections.queries.versions import stage_history

        if after is not None:
            after = check_int64(after, "log position")
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise ValidationError("limit must be a whole number of at least 1.")
            check_int64(limit, "limit")
        with self._store.read() as conn:
            model_ids = model_ids_ever_named(conn, model_name_or_id)
            rows = stage_history(conn, model_ids, after=after, limit=limit)
        return [
            StageChange(
                position=int(r["position"]),
                timestamp=r["timestamp"],
                model_id=UUID(r["model_id"]),
                version_id=UUID(r["version_id"]),
                version=r["version_name"],
                stage=_STAGES.get(r["stage"], r["stage"]),
                previous_stage=ModelStages(r["previous_stage"]),
                displaced_version=r["displaced_version_name"],
                actor=r["actor"],
                reason=r["reason"],
            )
            for r in rows
        ]

    def list_events(
        self, model: str | UUID | None, after: int | None, limit: int
    ) -> list[LoggedEvent]:
        self._allow(READ, "Reading the event log")
        import orjson

        from modelplane.projections.log import EventLog
        from modelplane.projections.queries.events import event_entries, event_positions
        from modelplane.projections.queries.models import model_ids_ever_named

        if limit < 1:
            raise ValidationError("limit must be at least 1.")
        start = check_int64(after or 0, "log position")
        check_int64(limit, "limit")
        log = EventLog.named(EVENTS_TABLE)
        with self._store.read() as conn:
            if model is None:
                rows = log.rows(conn, start, limit=limit)
            else:
                ids = model_ids_ever_named(conn, model)
                wanted = event_positions(conn, ids, start, limit)
                rows = log.rows_at(conn, wanted)
            index = event_entries(conn, [row[0] for row in rows])
        events = []
        for position, originator_id, version, topic, state in rows:
            payload = decode_event_payload(orjson.loads(state))
            timestamp = datetime.fromisoformat(payload.pop("timestamp"))
            payload.pop("originator_topic", None)
            entry = index.get(position)
            events.append(
                LoggedEvent(
                    position=position,
                    type=topic.split(":", 1)[-1],
                    timestamp=timestamp,
                    actor=payload.get("actor"),
                    originator_id=originator_id,
                    originator_version=version,
                    model_id=UUID(entry["model_id"]) if entry and entry["model_id"] else None,
                    payload=payload,
                )
            )
        return events

    def follow_events(
        self, after: int | None, model: str | UUID | None, types: Iterable[str] | None
    ) -> Iterator[LoggedEvent]:
        from modelplane.projections.log import EventLog

        from .follow import check_position, check_types, poll

        wanted = check_types(types)
        if after is None:
            with self._store.read() as conn:
                after = EventLog.named(EVENTS_TABLE).head(conn)
        start = check_position(after)
        self.list_events(model, start, 1)  # role, model and position checked before following
        return poll(lambda position, limit: self.list_events(model, position, limit), start, wanted)

    def rebuild_projections(
        self,
        until: int | datetime | None = None,
        into: str | Path | None = None,
        progress: Callable[[int, int], None] | None = None,
        overwrite: bool = False,
    ) -> ReplayResult:
        self._allow(ADMIN, "Rebuilding the read tables")
        from ..replay import replay

        return replay(self._store, until=until, into=into, progress=progress, overwrite=overwrite)

    def read_log(self, after: int, until: int | datetime | None, limit: int) -> LogPage:
        self._allow(ADMIN, "Reading the stored log")
        from modelplane.projections.log import EventLog
        from modelplane.projections.queries.time_travel import position_at

        start = check_int64(after, "log position")
        if start < 0:
            raise ValidationError("A log position is a number >= 0.")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValidationError("limit must be a whole number of at least 1.")
        check_int64(limit, "limit")
        log = EventLog.named(EVENTS_TABLE)
        with self._store.read() as conn:
            bound = log.head(conn) if until is None else position_at(conn, until)
            rows = log.rows(conn, start, bound, limit)
            if len(rows) == limit and rows[-1][0] < bound:
                # never end inside a transaction: a replay folds one transaction's events
                # together, as they were folded when written
                last = int(rows[-1][0])
                end = position_at(conn, last)
                if end > last:
                    rows += log.rows(conn, last, end, end - last)
            remaining = log.count(conn, start, bound)
        events = [
            StoredEventRow(int(p), originator_id, int(version), topic, bytes(state))
            for p, originator_id, version, topic, state in rows
        ]
        return LogPage(bound, remaining, events)

    # ---------------------------------------------------------------- metadata

    def metadata_of(self, target_id: UUID, until: int | None = None) -> dict[str, MetadataValue]:
        self._allow(READ, "Reading metadata")
        from modelplane.projections.queries.metadata_history import metadata_history

        with self._store.read() as conn:
            history = metadata_history(conn, str(target_id), until)
        return {
            key: MetadataValue(
                key,
                [
                    MetadataEntry(
                        decode_value(r["value"]),
                        r["timestamp"],
                        r["actor"],
                        int(r["position"]),
                        UUID(r["run_id"]) if r["run_id"] else None,
                        r["step"],
                    )
                    for r in rows
                ],
            )
            for key, rows in history.items()
        }

    def log_model_version_metadata(
        self,
        version_id: UUID,
        metadata: dict[str, Any],
        run_id: UUID | None = None,
        step: str | None = None,
    ) -> None:
        self._allow(WRITE, "Logging metadata")
        self._store.registry.log_metadata(
            version_id, metadata, run_id=run_id, step=step, actor=self.actor
        )

    def log_artifact_metadata(
        self,
        artifact_version_id: UUID,
        metadata: dict[str, Any],
        run_id: UUID | None = None,
        step: str | None = None,
    ) -> None:
        self._allow(WRITE, "Logging metadata")
        name, number = self._artifact_name_and_number(artifact_version_id)
        self._store.registry.log_artifact_metadata(
            name,
            artifact_version_id,
            metadata,
            artifact_version_number=number,
            run_id=run_id,
            step=step,
            actor=self.actor,
        )

    def log_run_metadata(
        self, run_id: UUID, metadata: dict[str, Any], step: str | None = None
    ) -> None:
        self._allow(WRITE, "Logging metadata")
        self._store.registry.log_run_metadata(run_id, metadata, step=step, actor=self.actor)

    # --------------------------------------------------------------- artifacts

    def get_artifact_version(
        self, name_id_or_prefix: str | UUID, version: str | int | None
    ) -> ArtifactVersionResponse:
        self._allow(READ, "Reading an artifact version")
        from modelplane.projections.queries.lineage import artifact_version_row

        with self._store.read() as conn:
            row = artifact_version_row(conn, name_id_or_prefix, version)
        return self._artifact_response(row)

    def list_artifact_versions(
        self, name: str | None, paging: PageRequest
    ) -> Page[ArtifactVersionResponse]:
        self._allow(READ, "Listing artifact versions")
        from modelplane.projections.queries.lineage import list_artifact_versions

        wanted = _paging(paging)
        with self._store.read() as conn:
            found = list_artifact_versions(conn, name=name, paging=wanted)
        items = [self._artifact_response(r) for r in found.rows]
        return self._page(found, items, wanted.size)

    def linked_artifacts(self, version_id: UUID, until: int | None = None) -> list[LinkedArtifact]:
        self._allow(READ, "Reading linked artifacts")
        from modelplane.projections.queries.lineage import artifact_links_of

        with self._store.read() as conn:
            rows = artifact_links_of(conn, str(version_id), until)
        return [LinkedArtifact(row["link_kind"], self._artifact_response(row)) for row in rows]

    def consumers_of(self, artifact_version_id: UUID) -> list[ArtifactConsumer]:
        self._allow(READ, "Reading an artifact's consumers")
        from modelplane.projections.queries.lineage import consumers_of

        with self._store.read() as conn:
            rows = consumers_of(conn, str(artifact_version_id))
        return [
            ArtifactConsumer(UUID(r["run_id"]), r["step"], r["input_name"], int(r["position"]))
            for r in rows
        ]

    def artifact_name(self, artifact_id: UUID | str) -> str | None:
        self._allow(READ, "Reading an artifact")
        from sqlalchemy import select

        from modelplane.projections.tables import artifacts

        query = select(artifacts.c.name).where(artifacts.c.id == str(artifact_id))
        with self._store.read() as conn:
            name = conn.execute(query).scalar()
        return None if name is None else str(name)

    def store_artifact(self, value: Any, materializer: Any = None) -> StoredArtifact:
        self._allow(WRITE, "Storing an artifact")
        return self.artifact_store.save(value, materializer=materializer)

    def load_artifact(self, stored: StoredArtifact, label: str) -> Any:
        self._allow(READ, "Loading an artifact")
        return self.artifact_store.load(stored, label=label)

    def record_artifact_version(
        self,
        name: str,
        stored: StoredArtifact,
        tags: Iterable[str] | None,
        run_id: UUID | None,
        step: str | None,
        link_to: UUID | None,
        link_kind: str,
    ) -> ArtifactVersionResponse:
        self._allow(WRITE, "Recording an artifact version")
        recorded = self._store.registry.record_artifact_version(
            name,
            stored=stored,
            tags=tags,
            run_id=run_id,
            step=step,
            link_to=link_to,
            link_kind=link_kind,
            actor=self.actor,
        )
        return self.get_artifact_version(recorded.id, None)

    def link_artifact(
        self,
        version_id: UUID,
        artifact_version_id: UUID,
        kind: str,
        run_id: UUID | None = None,
        step: str | None = None,
    ) -> None:
        self._allow(WRITE, "Linking an artifact")
        name, number = self._artifact_name_and_number(artifact_version_id)
        self._store.registry.link_artifact(
            version_id,
            name,
            artifact_version_id,
            artifact_version_number=number,
            kind=kind,
            run_id=run_id,
            step=step,
            actor=self.actor,
        )

    # -------------------------------------------------------------------- runs

    def start_run(
        self,
        run_id: UUID,
        name: str,
        pipeline: str,
        model_version_id: UUID | None,
        model_version_how: str | None,
        stage: str | None,
        parameters: dict[str, Any],
    ) -> None:
        self._allow(WRITE, "Starting a pipeline run")
        self._store.registry.start_run(
            name,
            pipeline=pipeline,
            model_version_id=model_version_id,
            model_version_how=model_version_how,
            stage=stage,
            parameters=parameters,
            actor=self.actor,
            run_id=run_id,
        )

    def finish_step(
        self,
        run_id: UUID,
        step: str,
        inputs: dict[str, UUID],
        outputs: dict[str, UUID],
        duration_ms: float,
        error: str | None,
    ) -> None:
        self._allow(WRITE, "Recording a step")
        self._store.registry.finish_step(
            run_id, step, inputs=inputs, outputs=outputs, duration_ms=duration_ms, error=error
        )

    def finish_run(self, run_id: UUID, status: str, error: str | None = None) -> None:
        self._allow(WRITE, "Ending a pipeline run")
        self._store.registry.finish_run(run_id, status=status, error=error, actor=self.actor)

    def get_pipeline_run(self, name_id_or_prefix: str | UUID) -> PipelineRunResponse:
        self._allow(READ, "Reading a pipeline run")
        from modelplane.projections.queries.lineage import run_row

        with self._store.read() as conn:
            row = run_row(conn, name_id_or_prefix)
        return self._run_response(row)

    def list_pipeline_runs(
        self,
        model: str | UUID | None,
        status: str | None,
        model_version_id: UUID | str | None,
        paging: PageRequest,
    ) -> Page[PipelineRunResponse]:
        self._allow(READ, "Listing pipeline runs")
        from modelplane.projections.queries.lineage import list_runs
        from modelplane.projections.queries.models import model_ids_ever_named

        wanted = _paging(paging)
        with self._store.read() as conn:
            model_ids = None if model is None else model_ids_ever_named(conn, model)
            found = list_runs(
                conn,
                model_ids=model_ids,
                model_version_id=None if model_version_id is None else str(model_version_id),
                status=status,
                paging=wanted,
            )
        return self._page(found, [self._run_response(r) for r in found.rows], wanted.size)

    def steps_of(self, run_id: UUID) -> dict[str, StepRunResponse]:
        self._allow(READ, "Reading a run's steps")
        from modelplane.projections.queries.lineage import run_steps_of

        with self._store.read() as conn:
            rows = run_steps_of(conn, str(run_id))
        return {
            r["step"]: StepRunResponse(
                name=r["step"],
                status=r["status"],
                inputs={k: UUID(v) for k, v in r["inputs"].items()},
                outputs={k: UUID(v) for k, v in r["outputs"].items()},
                duration_ms=float(r["duration_ms"]),
                error=r["error"],
                finished=r["finished"],
            )
            for r in rows
        }

    def consuming_runs(self, version_id: UUID) -> list[PipelineRunResponse]:
        self._allow(READ, "Reading a version's runs")
        from modelplane.projections.queries.lineage import runs_consuming_version

        with self._store.read() as conn:
            rows = runs_consuming_version(conn, str(version_id))
        return [self._run_response(r) for r in rows]

    # ------------------------------------------------------------------ tokens

    def create_token(self, name: str, role: str) -> CreatedToken:
        self._allow(ADMIN, "Creating a token")
        from .tokens import create_token

        return create_token(self._store, name, role, self.actor)

    def list_tokens(self) -> list[TokenResponse]:
        self._allow(ADMIN, "Listing tokens")
        from .tokens import list_tokens

        return list_tokens(self._store)

    def revoke_token(self, name: str) -> None:
        self._allow(ADMIN, "Revoking a token")
        from .tokens import revoke_token

        revoke_token(self._store, name, self.actor)

    # ---------------------------------------------------------------- webhooks

    def create_webhook(
        self, url: str, events: list[str], model: str | None, secret: str | None
    ) -> CreatedWebhook:
        self._allow(ADMIN, "Registering a webhook")
        from modelplane.webhooks.registrations import create_webhook

        return create_webhook(
            self._store, url=url, events=events, model=model, secret=secret, actor=self.actor
        )

    def list_webhooks(self) -> list[WebhookResponse]:
        self._allow(ADMIN, "Listing webhooks")
        from modelplane.webhooks.registrations import list_webhooks

        return list_webhooks(self._store)

    def get_webhook(self, webhook_id: UUID | str) -> WebhookResponse:
        self._allow(ADMIN, "Reading a webhook")
        from modelplane.webhooks.registrations import get_webhook

        return get_webhook(self._store, webhook_id)

    def delete_webhook(self, webhook_id: UUID | str, reason: str | None = None) -> None:
        self._allow(ADMIN, "Removing a webhook")
        from modelplane.webhooks.registrations import remove_webhook

        remove_webhook(self._store, webhook_id, reason, self.actor)

    def list_webhook_deliveries(
        self, webhook_id: UUID | str, limit: int = 50
    ) -> list[WebhookDelivery]:
        self._allow(ADMIN, "Reading a webhook's deliveries")
        from modelplane.webhooks.registrations import list_deliveries

        return list_deliveries(self._store, webhook_id, limit)

    # ----------------------------------------------------------------- helpers

    def _model_id(self, model_name_or_id: str | UUID) -> UUID:
        from modelplane.projections.queries.models import model_row

        with self._store.read() as conn:
            return UUID(model_row(conn, model_name_or_id)["id"])

    def _held_stages(self, model_id: UUID) -> set[str]:
        """The stages the model's live versions are in."""
        from sqlalchemy import false, select

        from modelplane.projections.tables import versions

        query = (
            select(versions.c.stage)
            .where(versions.c.model_id == str(model_id), versions.c.deleted == false())
            .distinct()
        )
        with self._store.read() as conn:
            return {str(s) for s in conn.execute(query).scalars()}

    def _artifact_name_and_number(self, artifact_version_id: UUID) -> tuple[str, int]:
        """What the log needs beside an artifact version's id (callers hold only the id)."""
        from modelplane.projections.queries.lineage import artifact_version_row

        with self._store.read() as conn:
            row = artifact_version_row(conn, artifact_version_id, None)
        return str(row["name"]), int(row["number"])

    def _page(self, found: PageRows, items: list[T], size: int) -> Page[T]:
        """A page of items; a total still to be counted is counted in a read of its own, if
        and when it is read."""
        from modelplane.projections.queries.paging import run_count

        total = found.total
        if isinstance(total, int):
            return Page(items, total, found.index, size, found.next_cursor)

        def count() -> int:
            with self._store.read() as conn:
                return run_count(conn, total)

        return Page(items, count, found.index, size, found.next_cursor)

    def _artifact_response(self, row: RowMapping) -> ArtifactVersionResponse:
        return ArtifactVersionResponse(
            id=UUID(row["id"]),
            name=row["name"],
            number=int(row["number"]),
            uri=row["uri"],
            content_hash=row["content_hash"],
            materializer=row["materializer"],
            data_type=row["data_type"],
            artifact_type=row["artifact_type"],
            size_bytes=int(row["size_bytes"]),
            producer_run_id=UUID(row["run_id"]) if row["run_id"] else None,
            producer_step=row["step"],
            tags=list(row["tags"]),
            warnings=list(row["warnings"]),
            created=row["created"],
            user=row["created_by"],
            _backend=self,
        )

    def _run_response(self, row: RowMapping) -> PipelineRunResponse:
        return PipelineRunResponse(
            id=UUID(row["id"]),
            name=row["name"],
            pipeline=row["pipeline"],
            status=row["status"],
            model_id=UUID(row["model_id"]) if row["model_id"] else None,
            model_version_id=UUID(row["model_version_id"]) if row["model_version_id"] else None,
            model_version_how=row["model_version_how"],
            stage=row["stage"],
            parameters=decode_metadata(row["parameters"]),
            error=row["error"],
            started=row["started"],
            finished=row["finished"],
            user=row["created_by"],
            updated=row["updated"],
            stale=row["status"] == "running"
            and (datetime.now(UTC) - row["updated"]).total_seconds() > config.stale_run_seconds(),
            _backend=self,
        )

    def _version(
        self,
        conn: Connection,
        row: RowMapping,
        model_name: str,
        stage: str | None = None,
        as_of: int | None = None,
    ) -> ModelVersionResponse:
        """One version as read now, or as of ``as_of`` (``row`` and ``stage`` read then)."""
        return self._versions(conn, [row], model_name, as_of=as_of, stages=[stage])[0]

    def _versions(
        self,
        conn: Connection,
        rows: Sequence[RowMapping],
        model_name: str,
        model_id: UUID | None = None,
        as_of: int | None = None,
        stages: Sequence[str | None] | None = None,
    ) -> list[ModelVersionResponse]:
        """Versions of one model with their aliases and key-value tags (one read of each
        for them all), now or as of ``as_of`` (``stages``: each row's stage then).

        The labels are read last in the caller's transaction (``tables.READ_LAST``)."""
        from modelplane.projections.queries.labels import VersionLabels, version_labels

        labels = version_labels(conn, [str(row["id"]) for row in rows], as_of) if rows else {}
        none = VersionLabels()
        return [
            self._version_response(
                row,
                model_name,
                None if stages is None else stages[i],
                model_id,
                as_of,
                labels.get(str(row["id"]), none),
            )
            for i, row in enumerate(rows)
        ]

    def _versions_of_models(
        self, conn: Connection, rows: Sequence[RowMapping]
    ) -> list[ModelVersionResponse]:
        """Versions of any models (each row with its ``model_name``), with their labels."""
        from modelplane.projections.queries.labels import VersionLabels, version_labels

        labels = version_labels(conn, [str(row["id"]) for row in rows]) if rows else {}
        none = VersionLabels()
        return [
            self._version_response(
                row, row["model_name"], None, None, None, labels.get(str(row["id"]), none)
            )
            for row in rows
        ]

    def _version_response(
        self,
        row: RowMapping,
        model_name: str,
        stage: str | None,
        model_id: UUID | None,
        as_of: int | None,
        labels: VersionLabels,
    ) -> ModelVersionResponse:
        return ModelVersionResponse(
            id=UUID(row["id"]),
            name=row["name"],
            number=row["number"],
            stage=_STAGES[stage or row["stage"]],
            description=row["description"],
            tags=list(row["tags"]),
            created=row["created"],
            updated=row["updated"],
            user=row["created_by"],
            model_id=model_id or UUID(row["model_id"]),
            model_name=model_name,
            aliases=list(labels.aliases),
            key_value_tags=dict(labels.key_value_tags),
            source=row["source"],
            run_id=row["source_run_id"],
            run_link=row["source_run_link"],
            _backend=self,
            as_of=as_of,
        )


def _version_with_model(
    conn: Connection, version_id: UUID | str, *, deleted_ok: bool = False
) -> RowMapping:
    from modelplane.projections.queries.versions import version_with_model_name

    return version_with_model_name(conn, version_id, deleted_ok=deleted_ok)


def _uuid_or_none(value: str | None) -> UUID | None:
    return None if value is None else UUID(value)


def _version_uuid(version_id: UUID | str) -> UUID:
    """A model version id given as text (a name is no id: not found)."""
    from modelplane.projections.queries.ids import as_uuid

    uid = as_uuid(version_id)
    if uid is None:
        raise NotFoundError(f"'{version_id}' is not a model version id.")
    return uid


def _models(conn: Connection, rows: Sequence[RowMapping]) -> list[ModelResponse]:
    """Models with their aliases and key-value tags (one read for them all, after theirs:
    ``tables.READ_LAST``)."""
    from modelplane.projections.queries.labels import ModelLabels, model_labels

    labels = model_labels(conn, [str(row["id"]) for row in rows]) if rows else {}
    none = ModelLabels()
    return [_model(row, labels.get(str(row["id"]), none)) for row in rows]


def _model(row: RowMapping, labels: ModelLabels) -> ModelResponse:
    return ModelResponse(
        id=UUID(row["id"]),
        name=row["name"],
        tags=list(row["tags"]),
        created=row["created"],
        updated=row["updated"],
        user=row["created_by"],
        latest_version_name=row["latest_version_name"],
        deleted=bool(row["deleted"]),
        aliases=dict(labels.aliases),
        key_value_tags=dict(labels.key_value_tags),
        **{field: row[field] for field in DESCRIPTIVE_FIELDS},
    )


def _stage_filter(stage: str) -> str:
    """The stage to list versions in: one a version can be in (``latest`` is not)."""
    value = selected_stage(stage)
    if value is None or value not in stages.ASSIGNABLE:
        msg = f"'{stage}' is not a stage to filter by; use one of: {', '.join(stages.ASSIGNABLE)}."
        raise ValidationError(msg)
    return value


def _paging(paging: PageRequest) -> Paging:
    """What page a listing reads: a page number (ints >= 1 whose offset fits 64 bits) or a
    cursor a previous page handed out (checked when the listing decodes it)."""
    from modelplane.projections.queries.paging import Paging

    check_paging(paging.page, paging.size)
    if paging.cursor is not None and not isinstance(paging.cursor, str):
        msg = f"cursor must be a previous page's next_cursor, not {paging.cursor!r}."
        raise ValidationError(msg)
    return Paging(page=paging.page, size=paging.size, cursor=paging.cursor)
