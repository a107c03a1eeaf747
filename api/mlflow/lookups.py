"""Finding what an MLflow request names, through the caller's backend, with MLflow's refusals.

MLflow names a model by its name only and a version by its number (a string on the wire);
modelplane's lookups also take ids, version names and stages, so each answer is checked to be
the one asked for (a name shaped like an id must not find another model by id). The messages
are MLflow's own (``Registered Model with name=X not found``, ``Model Version (name=X,
version=N) not found``, ``Parameter 'version' must be an integer``): MLflow users and their
tests match on them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from modelplane.backend.interface import ROLES
from modelplane.backend.local import LocalBackend
from modelplane.domain.errors import NotFoundError, PermissionDeniedError
from modelplane.domain.key_value_tags import check_key, check_value
from modelplane.domain.names import MAX_VERSION_NUMBER, normalise_name
from modelplane.responses import ModelResponse, ModelVersionResponse

from .errors import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, MlflowError, missing
from .messages import MlflowTag

_INTEGER = re.compile(r"\s*[-+]?\d{1,30}\s*")


def require(backend: LocalBackend, needed: str, doing: str) -> None:
    """Refuse a caller whose role is too weak before anything is looked up, as the backend's
    own commands do: a read token is told 403 for a write, not 404 for a missing model."""
    if ROLES.index(backend.role) < ROLES.index(needed):
        msg = f"{doing} needs the {needed} role; this caller has the {backend.role} role."
        raise PermissionDeniedError(msg)


def model_name(name: str, field: str = "name") -> str:
    if not name:
        raise missing(field)
    return str(normalise_name(name))


def check_tags(tags: Iterable[MlflowTag]) -> None:
    """Refuse a creation's tags before anything is looked up or appended (the creation and
    its tags are one transaction besides: ``LocalBackend.atomic``)."""
    for tag in tags:
        check_value(tag.value, check_key(tag.key))


def model_not_found(name: str) -> MlflowError:
    return MlflowError(RESOURCE_DOES_NOT_EXIST, f"Registered Model with name={name} not found")


def version_not_found(name: str, version: object) -> MlflowError:
    return MlflowError(
        RESOURCE_DOES_NOT_EXIST, f"Model Version (name={name}, version={version}) not found"
    )


def model_named(backend: LocalBackend, name: str) -> ModelResponse:
    name = model_name(name)
    try:
        model = backend.get_model(name)
    except NotFoundError:
        raise model_not_found(name) from None
    if model.name != name:  # found by id: MLflow names models by name only
        raise model_not_found(name)
    return model


def version_number(version: str | int) -> int:
    """MLflow's version field as a number; one no version can have (0, negative, past the
    registry's range) is still a number: it is then simply not found."""
    if isinstance(version, int) and not isinstance(version, bool):
        return version
    if version == "":
        raise missing("version")
    if not isinstance(version, str) or _INTEGER.fullmatch(version) is None:
        msg = f"Parameter 'version' must be an integer, got '{version}'."
        raise MlflowError(INVALID_PARAMETER_VALUE, msg)
    return int(version)


def version_of(backend: LocalBackend, name: str, version: str | int) -> ModelVersionResponse:
    name = model_name(name)
    number = version_number(version)
    if not 1 <= number <= MAX_VERSION_NUMBER:
        raise version_not_found(name, number)
    try:
        found = backend.get_model_version(name, number)
    except NotFoundError:
        raise version_not_found(name, number) from None
    if found.model_name != name:
        raise version_not_found(name, number)
    return found


def latest_versions(
    backend: LocalBackend, model: ModelResponse, stages: Iterable[str]
) -> list[ModelVersionResponse]:
    """The newest live version in each stage (modelplane's stage names) that has one."""
    return latest_versions_of(backend, [model], stages)[0]


def latest_versions_of(
    backend: LocalBackend, models: Sequence[ModelResponse], stages: Iterable[str]
) -> list[list[ModelVersionResponse]]:
    """The same for a page of models, in one read whatever their number of versions."""
    wanted = list(dict.fromkeys(stages))
    newest = backend.newest_versions_by_stage([model.id for model in models])
    return [
        [newest[model.id][stage] for stage in wanted if stage in newest[model.id]]
        for model in models
    ]
