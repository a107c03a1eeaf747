"""``/api/2.0/mlflow/registered-models/...``: MLflow's registered-model RPCs over the caller's
backend (each write an event with the token's name as actor).

Answers are 200 with MLflow's messages (an empty one is ``{}``). Tag and alias writes are
upserts (setting what is already set appends nothing and succeeds), since MLflow's client
sends them again after a 5xx; deleting a tag or an alias that does not exist succeeds, as in
MLflow. A registered model's ``latest_versions`` is the newest version in each stage that has
one, as MLflow's store computes it.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Annotated

from fastapi import APIRouter, Query

from modelplane.backend.interface import READ, WRITE
from modelplane.backend.local import LocalBackend
from modelplane.domain.errors import EntityExistsError, NotFoundError

from ..auth import Backend
from ..responses import JSON
from . import convert, lookups, messages, search
from .errors import INVALID_PARAMETER_VALUE, RESOURCE_ALREADY_EXISTS, MlflowError, MlflowRoute

router = APIRouter(prefix="/registered-models", route_class=MlflowRoute)

EMPTY: dict[str, object] = {}


def _answer(backend: LocalBackend, name: str) -> JSON:
    model = lookups.model_named(backend, name)
    latest = lookups.latest_versions(backend, model, convert.ALL_STAGES)
    return JSON({"registered_model": convert.registered_model(model, latest)})


def _exists(name: str) -> MlflowError:
    return MlflowError(RESOURCE_ALREADY_EXISTS, f"Registered Model (name={name}) already exists.")


@router.post("/create", response_model=messages.RegisteredModelAnswer)
def create_registered_model(backend: Backend, body: messages.CreateRegisteredModel) -> JSON:
    lookups.require(backend, WRITE, "Registering a model")
    name = lookups.model_name(body.name)
    lookups.check_tags(body.tags)
    try:
        with backend.atomic() if body.tags else nullcontext():  # the model and its tags
            created = backend.create_model(name, {"description": body.description}, None)
            if body.tags:
                for tag in body.tags:
                    backend.set_model_tag(created.id, tag.key, tag.value)
                created = backend.get_model(created.id)  # with its tags, before any later write
    except EntityExistsError:
        raise _exists(name) from None
    # a model just made has no versions: no latest ones to read
    return JSON({"registered_model": convert.registered_model(created, [])})


@router.get("/get", response_model=messages.RegisteredModelAnswer)
def get_registered_model(
    backend: Backend, query: Annotated[messages.RegisteredModelName, Query()]
) -> JSON:
    return _answer(backend, query.name)


@router.get("/search", response_model=messages.RegisteredModelsPage)
def search_registered_models(backend: Backend, query: Annotated[messages.Search, Query()]) -> JSON:
    lookups.require(backend, READ, "Searching models")
    found = search.search_models(
        backend, query.filter, query.max_results, query.order_by, query.page_token
    )
    latest = lookups.latest_versions_of(backend, found.items, convert.ALL_STAGES)
    models = [
        convert.registered_model(model, newest)
        for model, newest in zip(found.items, latest, strict=True)
    ]
    page: dict[str, object] = {"registered_models": models}
    if found.next_page_token:
        page["next_page_token"] = found.next_page_token
    return JSON(page)


@router.post("/rename", response_model=messages.RegisteredModelAnswer)
def rename_registered_model(backend: Backend, body: messages.RenameRegisteredModel) -> JSON:
    lookups.require(backend, WRITE, "Renaming a model")
    model = lookups.model_named(backend, body.name)
    new_name = lookups.model_name(body.new_name, "new_name")
    try:
        backend.update_model(model.id, new_name, {}, None, None)
    except EntityExistsError:
        raise _exists(new_name) from None
    return _answer(backend, new_name)


@router.patch("/update", response_model=messages.RegisteredModelAnswer)
def update_registered_model(backend: Backend, body: messages.UpdateRegisteredModel) -> JSON:
    lookups.require(backend, WRITE, "Updating a model")
    model = lookups.model_named(backend, body.name)
    if body.description is not None:
        backend.update_model(model.id, None, {"description": body.description}, None, None)
    return _answer(backend, model.name)


@router.delete("/delete", response_model=messages.MlflowEmpty)
def delete_registered_model(backend: Backend, body: messages.RegisteredModelName) -> JSON:
    lookups.require(backend, WRITE, "Deleting a model")
    model = lookups.model_named(backend, body.name)
    backend.delete_model(model.id, None)
    return JSON(EMPTY)


@router.post("/set-tag", response_model=messages.MlflowEmpty)
def set_registered_model_tag(backend: Backend, body: messages.SetRegisteredModelTag) -> JSON:
    lookups.require(backend, WRITE, "Tagging a model")
    model = lookups.model_named(backend, body.name)
    backend.set_model_tag(model.id, body.key, body.value)
    return JSON(EMPTY)


@router.delete("/delete-tag", response_model=messages.MlflowEmpty)
def delete_registered_model_tag(backend: Backend, body: messages.DeleteRegisteredModelTag) -> JSON:
    lookups.require(backend, WRITE, "Removing a model's tag")
    model = lookups.model_named(backend, body.name)
    try:
        backend.delete_model_tag(model.id, body.key)
    except NotFoundError:  # no such tag (a silent success in MLflow), unless the model is gone
        lookups.model_named(backend, model.name)
    return JSON(EMPTY)


@router.post("/alias", response_model=messages.MlflowEmpty)
def set_registered_model_alias(backend: Backend, body: messages.SetRegisteredModelAlias) -> JSON:
    lookups.require(backend, WRITE, "Setting an alias")
    version = lookups.version_of(backend, body.name, body.version)
    backend.set_model_version_alias(version.model_id, version.number, body.alias)
    return JSON(EMPTY)


@router.delete("/alias", response_model=messages.MlflowEmpty)
def delete_registered_model_alias(backend: Backend, body: messages.RegisteredModelAlias) -> JSON:
    lookups.require(backend, WRITE, "Removing an alias")
    model = lookups.model_named(backend, body.name)
    try:
        backend.delete_model_version_alias(model.id, body.alias)
    except NotFoundError:  # no such alias (a silent success in MLflow), unless the model is gone
        lookups.model_named(backend, model.name)
    return JSON(EMPTY)


@router.get("/alias", response_model=messages.ModelVersionAnswer)
def get_model_version_by_alias(
    backend: Backend, query: Annotated[messages.RegisteredModelAlias, Query()]
) -> JSON:
    model = lookups.model_named(backend, query.name)
    try:
        version = backend.get_model_version_by_alias(model.id, query.alias)
    except NotFoundError:
        # MLflow's store answers a missing alias as a bad value (400), not a missing resource
        msg = f"Registered model alias {query.alias} not found."
        raise MlflowError(INVALID_PARAMETER_VALUE, msg) from None
    return JSON({"model_version": convert.model_version(version)})


def _latest(backend: LocalBackend, request: messages.GetLatestVersions) -> JSON:
    model = lookups.model_named(backend, request.name)
    stages = [convert.modelplane_stage(s) for s in request.stages] or list(convert.ALL_STAGES)
    latest = lookups.latest_versions(backend, model, dict.fromkeys(stages))
    return JSON({"model_versions": [convert.model_version(v) for v in latest]})


@router.post("/get-latest-versions", response_model=messages.ModelVersionsAnswer)
def get_latest_versions(backend: Backend, body: messages.GetLatestVersions) -> JSON:
    """A read sent as a POST (MLflow's client tries POST first, then GET)."""
    return _latest(backend, body)


@router.get("/get-latest-versions", response_model=messages.ModelVersionsAnswer)
def get_latest_versions_by_get(
    backend: Backend, query: Annotated[messages.GetLatestVersions, Query()]
) -> JSON:
    return _latest(backend, query)
