"""``Client``: the SDK's entry point to the registry, named and shaped like ZenML's.

A thin translation: names are normalised to NFC, ZenML-only keywords warned about, model-card
fields gathered, and each call handed to the backend (``modelplane.backend``), which runs it
on a local store or on a server, with the same checks and errors either way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from uuid import UUID

from modelplane.domain.model_card import DESCRIPTIVE_FIELDS
from modelplane.domain.names import normalises_names

from .backend.interface import Backend, PageRequest
from .enums import ModelStages
from .options import CREATE_MODEL_IGNORED, check_options
from .responses import (
    AliasChange,
    ArtifactVersionResponse,
    LoggedEvent,
    ModelResponse,
    ModelVersionResponse,
    Page,
    PipelineRunResponse,
    ReplayResult,
    StageChange,
)

if TYPE_CHECKING:
    from .artifacts.content_store import ArtifactStore
    from .webhooks.responses import CreatedWebhook, WebhookDelivery, WebhookResponse

DEFAULT_PAGE_SIZE = 50


class Client:
    """Reads and writes the registry the environment points at (see ``modelplane.backend``),
    or the one ``backend`` given."""

    def __init__(self, backend: Backend | None = None) -> None:
        if backend is None:
            from . import backend as backends

            backend = backends.current()
        self._backend = backend

    @property
    def backend(self) -> Backend:
        """The backend every call goes through (local store or server)."""
        return self._backend

    @property
    def artifact_store(self) -> ArtifactStore:
        """The folder artifacts are stored in (under ``MODELPLANE_HOME``), in local mode."""
        from .backend.local import LocalBackend

        if not isinstance(self._backend, LocalBackend):
            msg = (
                f"The artifact store is on the server ({self._backend.location}); save and "
                "load artifacts through the SDK (save_artifact, ArtifactVersionResponse.load)."
            )
            raise RuntimeError(msg)
        return self._backend.artifact_store

    # ------------------------------------------------------------------ models

    @normalises_names("name", "tags")
    def create_model(
        self,
        name: str,
        license: str | None = None,
        description: str | None = None,
        tags: Iterable[str] | None = None,
        audience: str | None = None,
        use_cases: str | None = None,
        limitations: str | None = None,
        trade_offs: str | None = None,
        ethics: str | None = None,
        **zenml_options: Any,
    ) -> ModelResponse:
        """Register a model; ZenML-only options (``save_models_to_registry``) are ignored with
        a warning, a misspelt keyword (``licence=``) is a ``TypeError``."""
        check_options("create_model", Client.create_model, zenml_options, CREATE_MODEL_IGNORED)
        return self._backend.create_model(name, _descriptive_fields(locals()), tags)

    @normalises_names("model_name_or_id")
    def get_model(self, model_name_or_id: str | UUID) -> ModelResponse:
        return self._backend.get_model(model_name_or_id)

    @normalises_names("name", "tag")
    def list_models(
        self,
        name: str | None = None,
        tag: str | None = None,
        page: int = 1,
        size: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[ModelResponse]:
        """Live models, by name; ``name`` matches a substring, ``tag`` an exact tag.

        ``cursor`` (a previous page's ``next_cursor``) continues from where that page ended,
        with the same filters; ``page`` counts pages from the first instead.
        """
        return self._backend.list_models(name, tag, PageRequest(page, size, cursor))

    @normalises_names("model_name_or_id", "name", "add_tags", "remove_tags")
    def update_model(
        self,
        model_name_or_id: str | UUID,
        name: str | None = None,
        license: str | None = None,
        description: str | None = None,
        audience: str | None = None,
        use_cases: str | None = None,
        limitations: str | None = None,
        trade_offs: str | None = None,
        ethics: str | None = None,
        add_tags: Iterable[str] | None = None,
        remove_tags: Iterable[str] | None = None,
    ) -> ModelResponse:
        fields = {k: v for k, v in _descriptive_fields(locals()).items() if v is not None}
        return self._backend.update_model(model_name_or_id, name, fields, add_tags, remove_tags)

    @normalises_names("model_name_or_id")
    def delete_model(self, model_name_or_id: str | UUID, reason: str | None = None) -> None:
        self._backend.delete_model(model_name_or_id, reason)

    # ---------------------------------------------------------------- versions

    @normalises_names("model_name_or_id", "name", "tags")
    def create_model_version(
        self,
        model_name_or_id: str | UUID,
        name: str | None = None,
        description: str | None = None,
        tags: Iterable[str] | None = None,
        source: str | None = None,
        run_id: str | None = None,
        run_link: str | None = None,
    ) -> ModelVersionResponse:
        """The next version of a model. ``source`` (where its files are, a URI), ``run_id``
        and ``run_link`` (the run that made it, in another system such as MLflow) are kept
        as given and never change."""
        return self._backend.create_model_version(
            model_name_or_id, name, description, tags, source, run_id, run_link
        )

    @normalises_names("model_name_or_id", "model_version_name_or_number_or_id")
    def get_model_version(
        self,
        model_name_or_id: str | UUID,
        model_version_name_or_number_or_id: str | int | UUID | ModelStages | None = None,
        at: datetime | int | None = None,
    ) -> ModelVersionResponse:
        """A version by name, number, id or stage (None/latest: the highest number).

        ``at`` (a datetime or a log position) answers as of that moment: which version held
        the stage then, in which stage the version was, and (through the returned object)
        its metadata and linked artifacts as they were then.
        """
        return self._backend.get_model_version(
            model_name_or_id, model_version_name_or_number_or_id, at
        )

    @normalises_names("model_name_or_id", "tag", "name")
    def list_model_versions(
        self,
        model_name_or_id: str | UUID,
        stage: ModelStages | str | None = None,
        tag: str | None = None,
        name: str | None = None,
        page: int = 1,
        size: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[ModelVersionResponse]:
        """Live versions of a model, newest first (``cursor``: as in ``list_models``)."""
        paging = PageRequest(page, size, cursor)
        return self._backend.list_model_versions(model_name_or_id, stage, tag, name, paging)

    @normalises_names(
        "model_name_or_id",
        "version_name_or_id",
        "name",
        "add_tags",
        "remove_tags",
        "expected_holder",
    )
    def update_model_version(
        self,
        model_name_or_id: str | UUID,
        version_name_or_id: str | int | UUID | ModelStages,
        stage: ModelStages | str | None = None,
        force: bool = False,
        reason: str | None = None,
        name: str | None = None,
        description: str | None = None,
        add_tags: Iterable[str] | None = None,
        remove_tags: Iterable[str] | None = None,
        expected_holder: str | int | UUID | None = None,
    ) -> ModelVersionResponse:
        """Change a version; ``expected_holder`` (a version name, number or id, or ``"none"``
        for an empty stage) makes a promotion conditional: if ``stage`` is held otherwise
        when the promotion is appended, ``PreconditionFailedError`` and nothing changes, so
        a job that decided on what it read never undoes a promotion made since."""
        version_id = self.get_model_version(model_name_or_id, version_name_or_id).id
        # One command: a rename, tags and a promotion are appended together or not at all.
        return self._backend.update_model_version(
            version_id,
            stage=stage,
            force=force,
            expected_holder=expected_holder,
            reason=reason,
            name=name,
            description=description,
            add_tags=add_tags,
            remove_tags=remove_tags,
        )

    def delete_model_version(self, model_version_id: str | UUID, reason: str | None = None) -> None:
        self._backend.delete_model_version(model_version_id, reason)

    # ------------------------------------------------- aliases, key-value tags

    @normalises_names("model_name_or_id", "version", "alias")
    def set_model_version_alias(
        self,
        model_name_or_id: str | UUID,
        version: str | int | UUID | ModelStages | None,
        alias: str,
        reason: str | None = None,
    ) -> ModelVersionResponse:
        """Point ``alias`` (``champion``) at a version (a number, name, id or stage), moving
        it from the version holding it: one event, with the caller and ``reason``, so the
        alias history says who moved it and why. Setting it on its holder changes nothing."""
        return self._backend.set_model_version_alias(model_name_or_id, version, alias, reason)

    @normalises_names("model_name_or_id", "alias")
    def delete_model_version_alias(
        self, model_name_or_id: str | UUID, alias: str, reason: str | None = None
    ) -> None:
        """Drop an alias; ``NotFoundError`` if no version holds it."""
        self._backend.delete_model_version_alias(model_name_or_id, alias, reason)

    @normalises_names("model_name_or_id", "alias")
    def get_model_version_by_alias(
        self, model_name_or_id: str | UUID, alias: str, at: datetime | int | None = None
    ) -> ModelVersionResponse:
        """The version an alias names; with ``at`` (a datetime or a log position), the one
        it named then (as ``get_model_version(..., at=)`` answers, as of that moment)."""
        return self._backend.get_model_version_by_alias(model_name_or_id, alias, at)

    @normalises_names("model_name_or_id")
    def list_model_aliases(
        self, model_name_or_id: str | UUID, at: datetime | int | None = None
    ) -> dict[str, ModelVersionResponse]:
        """Alias -> the version it names, now or as of ``at``."""
        return self._backend.list_model_aliases(model_name_or_id, at)

    @normalises_names("model_name_or_id", "alias")
    def get_alias_history(
        self, model_name_or_id: str | UUID, alias: str | None = None
    ) -> list[AliasChange]:
        """Every set, move and removal of the model's aliases (or of one), oldest first,
        over every life of the name: from which version to which, who, when and why."""
        return self._backend.get_alias_history(model_name_or_id, alias)

    @normalises_names("model_name_or_id", "key")
    def set_model_tag(self, model_name_or_id: str | UUID, key: str, value: str) -> None:
        """Set a key-value tag (MLflow's tags) of a model; the same value again changes
        nothing. The ZenML-style ``tags`` are apart from these."""
        self._backend.set_model_tag(model_name_or_id, key, value)

    @normalises_names("model_name_or_id", "key")
    def delete_model_tag(self, model_name_or_id: str | UUID, key: str) -> None:
        """Drop a key-value tag of a model; ``NotFoundError`` if it has no such key."""
        self._backend.delete_model_tag(model_name_or_id, key)

    @normalises_names("model_name_or_id", "version", "key")
    def set_model_version_tag(
        self,
        model_name_or_id: str | UUID,
        version: str | int | UUID | ModelStages | None,
        key: str,
        value: str,
    ) -> None:
        """Set a key-value tag of a version (a number, name, id or stage)."""
        version_id = self.get_model_version(model_name_or_id, version).id
        self._backend.set_model_version_tag(version_id, key, value)

    @normalises_names("model_name_or_id", "version", "key")
    def delete_model_version_tag(
        self,
        model_name_or_id: str | UUID,
        version: str | int | UUID | ModelStages | None,
        key: str,
    ) -> None:
        """Drop a key-value tag of a version; ``NotFoundError`` if it has no such key."""
        version_id = self.get_model_version(model_name_or_id, version).id
        self._backend.delete_model_version_tag(version_id, key)

    # --------------------------------------------------------- history & audit

    @normalises_names("model_name_or_id")
    def get_stage_history(
        self,
        model_name_or_id: str | UUID,
        after: int | None = None,
        limit: int | None = None,
    ) -> list[StageChange]:
        """Every stage change of every version of the model, oldest first.

        A name that was deleted and registered again returns the history of every life.
        ``after`` (a log position) and ``limit`` read it a page at a time: the changes after
        that position, at most ``limit`` of them (one more when a model's deletion released
        both stages at the page's last position, so a position is never split); the next
        page is ``after=`` the last change's ``position``. Without them, the whole history.
        """
        return self._backend.get_stage_history(model_name_or_id, after, limit)

    @normalises_names("model")
    def list_events(
        self, model: str | UUID | None = None, after: int | None = None, limit: int = 100
    ) -> list[LoggedEvent]:
        """The raw log from a position on, optionally only one model's events (every life)."""
        return self._backend.list_events(model, after, limit)

    @normalises_names("model")
    def follow_events(
        self,
        after: int | None = None,
        model: str | UUID | None = None,
        types: str | Iterable[str] | None = None,
    ) -> Iterator[LoggedEvent]:
        """The events after ``after`` (None: only those appended from now on), then each new
        one as it is appended, forever: stop by leaving the loop (or ``close()``).

        ``model`` keeps one model's events (every life of its name), ``types`` some event
        types (``"Model.StageChanged"``). Remotely it reads ``GET /events/stream`` and, when
        the connection drops, resumes after the last event it yielded; locally it polls the
        log. Bad arguments raise here, before the first event.
        """
        return self._backend.follow_events(after, model, types)

    def rebuild_projections(
        self,
        until: int | datetime | None = None,
        into: str | Path | None = None,
        progress: Callable[[int, int], None] | None = None,
        overwrite: bool = False,
    ) -> ReplayResult:
        """Rebuild the read tables from the log (into a SQLite file, if ``into`` is given).

        ``into`` must be a new path, or a previous replay output with ``overwrite=True``.
        """
        return self._backend.rebuild_projections(
            until=until, into=into, progress=progress, overwrite=overwrite
        )

    # ---------------------------------------------------- artifacts and runs

    @normalises_names("name_id_or_prefix", "version")
    def get_artifact_version(
        self, name_id_or_prefix: str | UUID, version: str | int | None = None
    ) -> ArtifactVersionResponse:
        """An artifact version by name (+ version number; None: the newest), by id, or (with
        no version) by an unambiguous id prefix."""
        return self._backend.get_artifact_version(name_id_or_prefix, version)

    @normalises_names("name")
    def list_artifact_versions(
        self,
        name: str | None = None,
        page: int = 1,
        size: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[ArtifactVersionResponse]:
        """Artifact versions, newest first; ``name`` keeps one artifact's (``cursor``: as in
        ``list_models``)."""
        return self._backend.list_artifact_versions(name, PageRequest(page, size, cursor))

    @normalises_names("name_id_or_prefix")
    def get_pipeline_run(self, name_id_or_prefix: str | UUID) -> PipelineRunResponse:
        """A run by id, name (the newest of that name) or unambiguous id prefix (ZenML's order)."""
        return self._backend.get_pipeline_run(name_id_or_prefix)

    @normalises_names("model")
    def list_pipeline_runs(
        self,
        model: str | UUID | None = None,
        status: str | None = None,
        model_version_id: str | UUID | None = None,
        page: int = 1,
        size: int = DEFAULT_PAGE_SIZE,
        cursor: str | None = None,
    ) -> Page[PipelineRunResponse]:
        """Runs, newest first: of a model (every life of its name), a version, a status
        (``cursor``: as in ``list_models``)."""
        paging = PageRequest(page, size, cursor)
        return self._backend.list_pipeline_runs(model, status, model_version_id, paging)

    # ---------------------------------------------------------------- webhooks

    @normalises_names("model")
    def create_webhook(
        self,
        url: str,
        events: Iterable[str] = ("*",),
        model: str | None = None,
        secret: str | None = None,
    ) -> CreatedWebhook:
        """Post the events appended from now on to ``url`` (admin): ``events`` are event
        types (``Model.StageChanged``) or ``"*"``, ``model`` limits them to one model's (by
        name). Each delivery is signed with ``secret``; without one, a secret is generated
        and returned in ``.secret``, only here (see ``modelplane.webhooks.signing.verify``)."""
        return self._backend.create_webhook(url, list(events), model, secret)

    def list_webhooks(self) -> list[WebhookResponse]:
        """Every webhook, removed ones too, newest first (admin)."""
        return self._backend.list_webhooks()

    def get_webhook(self, webhook_id: str | UUID) -> WebhookResponse:
        """A webhook, with the log position delivered so far and who delivers it (admin)."""
        return self._backend.get_webhook(webhook_id)

    def delete_webhook(self, webhook_id: str | UUID, reason: str | None = None) -> None:
        """Stop delivering to a webhook (admin); its attempts stay listed."""
        self._backend.delete_webhook(webhook_id, reason)

    def list_webhook_deliveries(
        self, webhook_id: str | UUID, limit: int = 50
    ) -> list[WebhookDelivery]:
        """The attempts to deliver to a webhook, newest first (admin)."""
        return self._backend.list_webhook_deliveries(webhook_id, limit)


def _descriptive_fields(arguments: dict[str, Any]) -> dict[str, Any]:
    """The model card fields among a method's arguments (``create_model``, ``update_model``)."""
    return {field: arguments[field] for field in DESCRIPTIVE_FIELDS}
