"""``/api/2.0/mlflow/model-versions/...``: MLflow's model-version RPCs over the caller's backend.

A version is named by its model's name and its number (a string on the wire). Numbers count
up per model and are never reused, as in MLflow. Stages are modelplane's, which keep one
version in Staging and one in Production: a transition into an occupied one is refused
(409 ``RESOURCE_CONFLICT``) unless ``archive_existing_versions`` is true, which is
modelplane's ``force`` (the holder is archived in the same command, as MLflow archives the
others). ``get-download-uri`` answers the version's ``source``; a ``models:/`` source (what
``copy_model_version`` writes) is followed to the version it names, as MLflow's server does.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Annotated

from fastapi import APIRouter, Query

from modelplane.backend.interface import READ, WRITE
from modelplane.backend.local import LocalBackend
from modelplane.domain import stages
from modelplane.domain.errors import NotFoundError, StageOccupiedError, ValidationError
from modelplane.domain.names import as_number
from modelplane.domain.stages import selected_stage
from modelplane.projections.queries.ids import as_uuid
from modelplane.responses import ModelVersionResponse

from ..auth import Backend
from ..responses import JSON
from . import convert, lookups, messages, search
from .errors import INVALID_PARAMETER_VALUE, RESOURCE_CONFLICT, MlflowError, MlflowRoute, missing

router = APIRouter(prefix="/model-versions", route_class=MlflowRoute)

EMPTY: dict[str, object] = {}
MODELS_URI = "models:/"
#: how many ``models:/`` sources naming one another a download URI follows
MAX_HOPS = 16


def _answer(version: ModelVersionResponse) -> JSON:
    return JSON({"model_version": convert.model_version(version)})


@router.post("/create", response_model=messages.ModelVersionAnswer)
def create_model_version(backend: Backend, body: messages.CreateModelVersion) -> JSON:
    lookups.require(backend, WRITE, "Creating a model version")
    if not body.source:
        raise missing("source")
    lookups.check_tags(body.tags)
    name = lookups.model_name(body.name)
    # the backend takes a name or an id; MLflow names models by name only
    model = lookups.model_named(backend, name).id if as_uuid(name) is not None else name
    try:
        with backend.atomic() if body.tags else nullcontext():  # the version and its tags
            created = backend.create_model_version(
                model,
                None,
                body.description,
                None,
                source=body.source,
                run_id=body.run_id or None,
                run_link=body.run_link or None,
            )
            if body.tags:
                for tag in body.tags:
                    backend.set_model_version_tag(created.id, tag.key, tag.value)
                created = backend.get_model_version_by_id(created.id)
    except NotFoundError:
        lookups.model_named(backend, name)  # no live model of that name: MLflow's 404
        raise
    return _answer(created)


@router.get("/get", response_model=messages.ModelVersionAnswer)
def get_model_version(
    backend: Backend, query: Annotated[messages.ModelVersionRef, Query()]
) -> JSON:
    return _answer(lookups.version_of(backend, query.name, query.version))


@router.get("/search", response_model=messages.ModelVersionsPage)
def search_model_versions(backend: Backend, query: Annotated[messages.Search, Query()]) -> JSON:
    lookups.require(backend, READ, "Searching model versions")
    found = search.search_versions(
        backend, query.filter, query.max_results, query.order_by, query.page_token
    )
    page: dict[str, object] = {"model_versions": [convert.model_version(v) for v in found.items]}
    if found.next_page_token:
        page["next_page_token"] = found.next_page_token
    return JSON(page)


@router.patch("/update", response_model=messages.ModelVersionAnswer)
def update_model_version(backend: Backend, body: messages.UpdateModelVersion) -> JSON:
    lookups.require(backend, WRITE, "Updating a model version")
    version = lookups.version_of(backend, body.name, body.version)
    if body.description is not None:
        version = backend.update_model_version(version.id, description=body.description)
    return _answer(version)


@router.delete("/delete", response_model=messages.MlflowEmpty)
def delete_model_version(backend: Backend, body: messages.ModelVersionRef) -> JSON:
    lookups.require(backend, WRITE, "Deleting a model version")
    version = lookups.version_of(backend, body.name, body.version)
    try:
        backend.delete_model_version(version.id, None)
    except NotFoundError:  # deleted meanwhile
        raise lookups.version_not_found(version.model_name, version.number) from None
    return JSON(EMPTY)


@router.post("/set-tag", response_model=messages.MlflowEmpty)
def set_model_version_tag(backend: Backend, body: messages.SetModelVersionTag) -> JSON:
    lookups.require(backend, WRITE, "Tagging a model version")
    version = lookups.version_of(backend, body.name, body.version)
    backend.set_model_version_tag(version.id, body.key, body.value)
    return JSON(EMPTY)


@router.delete("/delete-tag", response_model=messages.MlflowEmpty)
def delete_model_version_tag(backend: Backend, body: messages.DeleteModelVersionTag) -> JSON:
    lookups.require(backend, WRITE, "Removing a model version's tag")
    version = lookups.version_of(backend, body.name, body.version)
    try:
        backend.delete_model_version_tag(version.id, body.key)
    except NotFoundError:  # no such tag (a silent success in MLflow), unless the version is gone
        lookups.version_of(backend, version.model_name, version.number)
    return JSON(EMPTY)


@router.get("/get-download-uri", response_model=messages.DownloadUri)
def get_model_version_download_uri(
    backend: Backend, query: Annotated[messages.ModelVersionRef, Query()]
) -> JSON:
    version = lookups.version_of(backend, query.name, query.version)
    return JSON({"artifact_uri": _download_uri(backend, version)})


@router.post("/transition-stage", response_model=messages.ModelVersionAnswer)
def transition_model_version_stage(
    backend: Backend, body: messages.TransitionModelVersionStage
) -> JSON:
    lookups.require(backend, WRITE, "Moving a model version")
    stage = convert.modelplane_stage(body.stage)
    version = lookups.version_of(backend, body.name, body.version)
    force = body.archive_existing_versions
    if force and stage not in stages.EXCLUSIVE:
        msg = (
            "Model version transition cannot archive existing model versions because "
            f"'{convert.mlflow_stage(stage)}' is not an Active stage. "
            "Valid stages are ['Staging', 'Production']"
        )
        raise MlflowError(INVALID_PARAMETER_VALUE, msg)
    try:
        moved = backend.update_model_version(version.id, stage=stage, force=force)
    except StageOccupiedError as error:
        raise _occupied(version, error) from None
    return _answer(moved)


def _occupied(version: ModelVersionResponse, error: StageOccupiedError) -> MlflowError:
    shown = convert.mlflow_stage(error.stage)
    msg = (
        f"Model Version (name={version.model_name}, version={version.number}) cannot move "
        f"to {shown}: version '{error.holder}' is in {shown}, and modelplane keeps one version "
        "in each of Staging and Production. Send archive_existing_versions=true to archive "
        f"version '{error.holder}' as this one moves in."
    )
    return MlflowError(RESOURCE_CONFLICT, msg)


def _download_uri(backend: LocalBackend, version: ModelVersionResponse) -> str:
    """The version's source, following ``models:/NAME/VERSION``, ``models:/NAME/STAGE`` and
    ``models:/NAME@ALIAS`` to the source of the version named (as it is now); a source naming
    nothing that exists is answered as it is."""
    source = version.source or ""
    for _ in range(MAX_HOPS):
        if not source.startswith(MODELS_URI):
            return source
        named = _named_version(backend, source.removeprefix(MODELS_URI))
        if named is None or named.source is None:
            return source
        source = named.source
    return source


def _named_version(backend: LocalBackend, reference: str) -> ModelVersionResponse | None:
    try:
        if "@" in reference:
            name, alias = reference.rsplit("@", 1)
            return backend.get_model_version_by_alias(lookups.model_named(backend, name).id, alias)
        name, _, selector = reference.rpartition("/")
        if not name:
            return None  # a logged model (models:/m-...), which this registry does not hold
        number = as_number(selector)
        if number is not None:
            return lookups.version_of(backend, name, number)
        stage = selected_stage(selector)
        if stage == stages.LATEST:
            return backend.get_model_version(name, None)
        if stage is not None:
            model = lookups.model_named(backend, name)
            found = lookups.latest_versions(backend, model, [stage])
            return found[0] if found else None
    except (NotFoundError, ValidationError, MlflowError):
        return None
    return None
