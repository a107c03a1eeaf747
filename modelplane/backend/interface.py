"""The one interface the SDK, the CLI and pipelines reach the registry through.

Two implementations: ``LocalBackend`` (``local.py``) runs the use cases over a store on this
machine, and ``HttpBackend`` (``http.py``) calls the routes of ``modelplane.api``, which wrap
the same ``LocalBackend`` on the server. Nothing but the local backend touches the domain
``Registry`` or the read tables, so a behaviour is written once and behaves the same both
ways, errors included (the HTTP backend raises the exception type the server's use case
raised).

The actor is bound when a backend is made (the OS user locally, the token's name on the
server), never passed per call. Arguments are plain values that cross the wire unchanged
(names, ids, numbers, JSON metadata); what comes back are the response objects of
``modelplane.responses``, each holding the backend that made it so that its lazy parts
(metadata, linked artifacts, runs) are read through the same backend.

Names and selectors arrive already normalised (``Client`` does that, once, for both).
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

if TYPE_CHECKING:
    from modelplane.artifacts.content_store import StoredArtifact
    from modelplane.responses import (
        AliasChange,
        ArtifactConsumer,
        ArtifactVersionResponse,
        LinkedArtifact,
        LoggedEvent,
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
    from modelplane.webhooks.responses import CreatedWebhook, WebhookDelivery, WebhookResponse

#: roles, lowest first; each includes the ones before it
READ, WRITE, ADMIN = "read", "write", "admin"
ROLES = (READ, WRITE, ADMIN)

#: a selector of a model version: a name, a number, an id or a stage (None: the latest)
VersionSelector = str | int | UUID | None


@dataclass(frozen=True, slots=True)
class PageRequest:
    """Which page of a listing: a page number, or a previous page's ``next_cursor``."""

    page: int = 1
    size: int = 50
    cursor: str | None = None


@dataclass(frozen=True, slots=True)
class CreatedToken:
    """A new API token: the secret is in ``token``, shown once and stored only as a digest."""

    token: str
    name: str
    role: str


@dataclass(frozen=True, slots=True)
class StoredEventRow:
    """One event exactly as the log stores it (its body still encoded), for a replay built
    on another machine: what the projections fold there is what this store holds."""

    position: int
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes


@dataclass(frozen=True, slots=True)
class LogPage:
    """A page of the raw log after a position, up to ``position``.

    ``position`` is the bound asked for, resolved once by the store (a time or a position
    widened to the end of its transaction; no bound: the head then), so the next pages, asked
    with ``until=position``, read the same past however much is appended meanwhile.
    ``remaining`` counts the events after ``after`` up to it, this page's included; a page
    never ends inside a transaction.
    """

    position: int
    remaining: int
    events: list[StoredEventRow]


class Backend(abc.ABC):
    """Every command and query the SDK, the CLI and pipelines need."""

    #: who the backend's commands are recorded as (the token's name on a server)
    @property
    @abc.abstractmethod
    def actor(self) -> str: ...

    #: where this backend reaches the registry, for messages ("sqlite:///...", "http://...")
    @property
    @abc.abstractmethod
    def location(self) -> str: ...

    # ------------------------------------------------------------------ models

    @abc.abstractmethod
    def create_model(
        self, name: str, fields: dict[str, str | None], tags: Iterable[str] | None
    ) -> ModelResponse: ...

    @abc.abstractmethod
    def get_model(self, model_name_or_id: str | UUID) -> ModelResponse: ...

    @abc.abstractmethod
    def list_models(
        self, name: str | None, tag: str | None, paging: PageRequest
    ) -> Page[ModelResponse]: ...

    @abc.abstractmethod
    def update_model(
        self,
        model_name_or_id: str | UUID,
        name: str | None,
        fields: dict[str, str],
        add_tags: Iterable[str] | None,
        remove_tags: Iterable[str] | None,
    ) -> ModelResponse: ...

    @abc.abstractmethod
    def delete_model(self, model_name_or_id: str | UUID, reason: str | None) -> None: ...

    @abc.abstractmethod
    def model_lives(self, model_name_or_id: str | UUID) -> list[ModelResponse]:
        """Every model that ever had this name (or this id), deleted ones too, oldest first."""

    @abc.abstractmethod
    def model_name_history(self, model_id: UUID) -> list[tuple[int, str]]:
        """``(position, name)`` of each name the model had, in log order."""

    @abc.abstractmethod
    def model_id_for_name(self, name: str) -> UUID | None:
        """The live model of that name, as the write side sees it (None: no such model)."""

    # ---------------------------------------------------------------- versions

    @abc.abstractmethod
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
        """``source``, ``run_id``, ``run_link``: where the version came from (MLflow's
        fields), fixed for good."""

    @abc.abstractmethod
    def get_model_version(
        self,
        model_name_or_id: str | UUID,
        selector: VersionSelector,
        at: datetime | int | None = None,
    ) -> ModelVersionResponse: ...

    @abc.abstractmethod
    def get_model_version_by_id(
        self, version_id: UUID | str, deleted_ok: bool = False
    ) -> ModelVersionResponse: ...

    @abc.abstractmethod
    def list_model_versions(
        self,
        model_name_or_id: str | UUID,
        stage: str | None,
        tag: str | None,
        name: str | None,
        paging: PageRequest,
    ) -> Page[ModelVersionResponse]: ...

    @abc.abstractmethod
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
    ) -> ModelVersionResponse: ...

    @abc.abstractmethod
    def delete_model_version(self, version_id: UUID | str, reason: str | None) -> None: ...

    # ------------------------------------------------- aliases, key-value tags

    @abc.abstractmethod
    def set_model_version_alias(
        self,
        model_name_or_id: str | UUID,
        version: VersionSelector,
        alias: str,
        reason: str | None = None,
    ) -> ModelVersionResponse:
        """Point ``alias`` at the version (moving it from the one holding it); the version
        as it is then."""

    @abc.abstractmethod
    def delete_model_version_alias(
        self, model_name_or_id: str | UUID, alias: str, reason: str | None = None
    ) -> None:
        """Drop an alias (``NotFoundError`` if no version holds it)."""

    @abc.abstractmethod
    def get_model_version_by_alias(
        self, model_name_or_id: str | UUID, alias: str, at: datetime | int | None = None
    ) -> ModelVersionResponse:
        """The version an alias names, now or as of ``at`` (a datetime or log position)."""

    @abc.abstractmethod
    def list_model_aliases(
        self, model_name_or_id: str | UUID, at: datetime | int | None = None
    ) -> dict[str, ModelVersionResponse]:
        """Alias -> the version it names, now or as of ``at``, by alias."""

    @abc.abstractmethod
    def get_alias_history(
        self, model_name_or_id: str | UUID, alias: str | None = None
    ) -> list[AliasChange]:
        """Every set, move and removal of the model's aliases (every life of its name), or
        of one alias, oldest first."""

    @abc.abstractmethod
    def set_model_tag(self, model_name_or_id: str | UUID, key: str, value: str) -> None:
        """Set a key-value tag of a model (the same value again appends nothing)."""

    @abc.abstractmethod
    def delete_model_tag(self, model_name_or_id: str | UUID, key: str) -> None:
        """Drop a key-value tag of a model (``NotFoundError`` if it has no such key)."""

    @abc.abstractmethod
    def set_model_version_tag(self, version_id: UUID | str, key: str, value: str) -> None:
        """Set a key-value tag of a version (the same value again appends nothing)."""

    @abc.abstractmethod
    def delete_model_version_tag(self, version_id: UUID | str, key: str) -> None:
        """Drop a key-value tag of a version (``NotFoundError`` if it has no such key)."""

    # --------------------------------------------------------- history & audit

    @abc.abstractmethod
    def get_stage_history(
        self, model_name_or_id: str | UUID, after: int | None, limit: int | None
    ) -> list[StageChange]: ...

    @abc.abstractmethod
    def list_events(
        self, model: str | UUID | None, after: int | None, limit: int
    ) -> list[LoggedEvent]: ...

    @abc.abstractmethod
    def follow_events(
        self, after: int | None, model: str | UUID | None, types: Iterable[str] | None
    ) -> Iterator[LoggedEvent]:
        """The events after ``after`` (None: from the end of the log now), then each new one,
        forever; the arguments are checked (and a stream opened) before this returns."""

    @abc.abstractmethod
    def rebuild_projections(
        self,
        until: int | datetime | None = None,
        into: str | Path | None = None,
        progress: Callable[[int, int], None] | None = None,
        overwrite: bool = False,
    ) -> ReplayResult: ...

    @abc.abstractmethod
    def read_log(self, after: int, until: int | datetime | None, limit: int) -> LogPage:
        """The stored events after ``after`` up to ``until`` (admin): what a replay folds."""

    # ---------------------------------------------------------------- metadata

    @abc.abstractmethod
    def metadata_of(self, target_id: UUID, until: int | None = None) -> dict[str, MetadataValue]:
        """Metadata logged on a model version, artifact version or run, key by key."""

    @abc.abstractmethod
    def log_model_version_metadata(
        self,
        version_id: UUID,
        metadata: dict[str, Any],
        run_id: UUID | None = None,
        step: str | None = None,
    ) -> None: ...

    @abc.abstractmethod
    def log_artifact_metadata(
        self,
        artifact_version_id: UUID,
        metadata: dict[str, Any],
        run_id: UUID | None = None,
        step: str | None = None,
    ) -> None: ...

    @abc.abstractmethod
    def log_run_metadata(
        self, run_id: UUID, metadata: dict[str, Any], step: str | None = None
    ) -> None: ...

    # --------------------------------------------------------------- artifacts

    @abc.abstractmethod
    def get_artifact_version(
        self, name_id_or_prefix: str | UUID, version: str | int | None
    ) -> ArtifactVersionResponse: ...

    @abc.abstractmethod
    def list_artifact_versions(
        self, name: str | None, paging: PageRequest
    ) -> Page[ArtifactVersionResponse]: ...

    @abc.abstractmethod
    def linked_artifacts(
        self, version_id: UUID, until: int | None = None
    ) -> list[LinkedArtifact]:
        """The artifact versions linked to a model version (as of ``until``), in link order."""

    @abc.abstractmethod
    def consumers_of(self, artifact_version_id: UUID) -> list[ArtifactConsumer]: ...

    @abc.abstractmethod
    def artifact_name(self, artifact_id: UUID | str) -> str | None: ...

    @abc.abstractmethod
    def store_artifact(self, value: Any, materializer: Any = None) -> StoredArtifact:
        """Write a value's bytes where the registry keeps artifacts (uploaded, if remote)."""

    @abc.abstractmethod
    def load_artifact(self, stored: StoredArtifact, label: str) -> Any:
        """Read a stored value back (downloaded and cached by hash, if remote); ``label``
        ("artifact NAME version N") names it in errors."""

    @abc.abstractmethod
    def record_artifact_version(
        self,
        name: str,
        stored: StoredArtifact,
        tags: Iterable[str] | None,
        run_id: UUID | None,
        step: str | None,
        link_to: UUID | None,
        link_kind: str,
    ) -> ArtifactVersionResponse: ...

    @abc.abstractmethod
    def link_artifact(
        self,
        version_id: UUID,
        artifact_version_id: UUID,
        kind: str,
        run_id: UUID | None = None,
        step: str | None = None,
    ) -> None: ...

    # -------------------------------------------------------------------- runs

    @abc.abstractmethod
    def start_run(
        self,
        run_id: UUID,
        name: str,
        pipeline: str,
        model_version_id: UUID | None,
        model_version_how: str | None,
        stage: str | None,
        parameters: dict[str, Any],
    ) -> None: ...

    @abc.abstractmethod
    def finish_step(
        self,
        run_id: UUID,
        step: str,
        inputs: dict[str, UUID],
        outputs: dict[str, UUID],
        duration_ms: float,
        error: str | None,
    ) -> None: ...

    @abc.abstractmethod
    def finish_run(self, run_id: UUID, status: str, error: str | None = None) -> None: ...

    @abc.abstractmethod
    def get_pipeline_run(self, name_id_or_prefix: str | UUID) -> PipelineRunResponse: ...

    @abc.abstractmethod
    def list_pipeline_runs(
        self,
        model: str | UUID | None,
        status: str | None,
        model_version_id: UUID | str | None,
        paging: PageRequest,
    ) -> Page[PipelineRunResponse]: ...

    @abc.abstractmethod
    def steps_of(self, run_id: UUID) -> dict[str, StepRunResponse]: ...

    @abc.abstractmethod
    def consuming_runs(self, version_id: UUID) -> list[PipelineRunResponse]: ...

    # ------------------------------------------------------------------ tokens

    @abc.abstractmethod
    def create_token(self, name: str, role: str) -> CreatedToken: ...

    @abc.abstractmethod
    def list_tokens(self) -> list[TokenResponse]: ...

    @abc.abstractmethod
    def revoke_token(self, name: str) -> None: ...

    # ---------------------------------------------------------------- webhooks

    @abc.abstractmethod
    def create_webhook(
        self, url: str, events: list[str], model: str | None, secret: str | None
    ) -> CreatedWebhook: ...

    @abc.abstractmethod
    def list_webhooks(self) -> list[WebhookResponse]: ...

    @abc.abstractmethod
    def get_webhook(self, webhook_id: UUID | str) -> WebhookResponse: ...

    @abc.abstractmethod
    def delete_webhook(self, webhook_id: UUID | str, reason: str | None = None) -> None: ...

    @abc.abstractmethod
    def list_webhook_deliveries(
        self, webhook_id: UUID | str, limit: int = 50
    ) -> list[WebhookDelivery]: ...

    # --------------------------------------------------------------- lifecycle

    def close(self) -> None:  # noqa: B027 (an optional hook, not every backend holds anything)
        """Release what the backend holds open (connections); it may be used again after."""
