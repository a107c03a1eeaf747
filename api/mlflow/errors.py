"""MLflow's error answers on every route under ``/api/2.0/mlflow``: ``{"error_code", "message"}``.

An MLflow client reads nothing but ``error_code`` (``RestException``): a body in another
shape, modelplane's ``{"error": ...}`` or FastAPI's ``{"detail": ...}``, becomes
``INTERNAL_ERROR`` on the client, and ``get_latest_versions`` falls back from POST to GET only
on ``ENDPOINT_NOT_FOUND``. So this layer answers every failure of its routes itself, before
the application's handlers see it (:class:`MlflowRoute`): the registry's refusals, the token
check (401 ``UNAUTHENTICATED``, 403 ``PERMISSION_DENIED``), malformed requests (400
``INVALID_PARAMETER_VALUE``, where FastAPI would say 422), unknown routes and methods
(:func:`not_found`), and bugs (500 ``INTERNAL_ERROR``, the traceback to the log only).
Statuses are MLflow's (``mlflow.exceptions.ERROR_CODE_TO_HTTP_STATUS``): a duplicate name is
400, not 409.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.exceptions import HTTPException
from starlette.responses import Response

from modelplane.backend.errors import AuthenticationError
from modelplane.domain.errors import (
    ArtifactCorruptedError,
    ConcurrencyError,
    EntityExistsError,
    NotFoundError,
    PermissionDeniedError,
    RegistryError,
    StageOccupiedError,
)

from ..responses import JSON

log = logging.getLogger("modelplane.api.mlflow")

RESOURCE_ALREADY_EXISTS = "RESOURCE_ALREADY_EXISTS"
RESOURCE_DOES_NOT_EXIST = "RESOURCE_DOES_NOT_EXIST"
INVALID_PARAMETER_VALUE = "INVALID_PARAMETER_VALUE"
UNAUTHENTICATED = "UNAUTHENTICATED"
PERMISSION_DENIED = "PERMISSION_DENIED"
ENDPOINT_NOT_FOUND = "ENDPOINT_NOT_FOUND"
RESOURCE_CONFLICT = "RESOURCE_CONFLICT"
ABORTED = "ABORTED"
INTERNAL_ERROR = "INTERNAL_ERROR"

#: MLflow's status for each code this layer answers with
STATUS: dict[str, int] = {
    RESOURCE_ALREADY_EXISTS: 400,
    INVALID_PARAMETER_VALUE: 400,
    UNAUTHENTICATED: 401,
    PERMISSION_DENIED: 403,
    RESOURCE_DOES_NOT_EXIST: 404,
    ENDPOINT_NOT_FOUND: 404,
    RESOURCE_CONFLICT: 409,
    ABORTED: 409,
    INTERNAL_ERROR: 500,
}


class MlflowErrorBody(BaseModel):
    """MLflow's error answer (``MlflowException.serialize_as_json``)."""

    error_code: str
    message: str


#: the error answers every MLflow route documents (OpenAPI), all in MLflow's shape; "4XX"
#: also keeps FastAPI from documenting its 422, which these routes never answer
RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": MlflowErrorBody, "description": description}
    for status, description in (
        ("4XX", "Any other refusal, e.g. 405 ENDPOINT_NOT_FOUND for a method not served."),
        (400, "INVALID_PARAMETER_VALUE (a malformed request too), RESOURCE_ALREADY_EXISTS."),
        (401, "UNAUTHENTICATED: no API token, or a malformed, unknown or revoked one."),
        (403, "PERMISSION_DENIED: the token's role does not allow this."),
        (404, "RESOURCE_DOES_NOT_EXIST: no such registered model or model version."),
        (409, "RESOURCE_CONFLICT: the stage is held by another version; ABORTED: a lost race."),
        (500, "INTERNAL_ERROR: the server failed; its log says why."),
    )
}


class MlflowError(Exception):
    """A refusal in MLflow's words: an ``error_code`` and the message MLflow would give."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def response(self, headers: dict[str, str] | None = None) -> JSON:
        return answer(self.code, self.message, headers=headers)


def answer(code: str, message: str, status: int | None = None, **kwargs: Any) -> JSON:
    headers = kwargs.pop("headers", None) or {}
    if code == UNAUTHENTICATED:
        headers = {**headers, "WWW-Authenticate": "Bearer"}
    body = {"error_code": code, "message": message}
    return JSON(body, status_code=status or STATUS[code], headers=headers or None)


def missing(field: str) -> MlflowError:
    return MlflowError(INVALID_PARAMETER_VALUE, f"Missing value for required parameter '{field}'.")


#: most specific first: the first class an error is an instance of gives its code
_CODES: tuple[tuple[type[BaseException], str], ...] = (
    (AuthenticationError, UNAUTHENTICATED),
    (PermissionDeniedError, PERMISSION_DENIED),
    (NotFoundError, RESOURCE_DOES_NOT_EXIST),
    (EntityExistsError, RESOURCE_ALREADY_EXISTS),
    (StageOccupiedError, RESOURCE_CONFLICT),
    (ConcurrencyError, ABORTED),
    (ArtifactCorruptedError, INTERNAL_ERROR),
)


def code_of(error: RegistryError) -> str:
    for kind, code in _CODES:
        if isinstance(error, kind):
            return code
    return INVALID_PARAMETER_VALUE


def translated(error: Exception, request: Request) -> Response:
    """Any failure of an MLflow route as MLflow's answer."""
    if isinstance(error, MlflowError):
        return error.response()
    if isinstance(error, RegistryError):
        return answer(code_of(error), str(error))
    if isinstance(error, RequestValidationError):
        return answer(INVALID_PARAMETER_VALUE, _malformed(error))
    if isinstance(error, HTTPException):
        # FastAPI's own refusals before a route runs (a body that is not JSON)
        code = INVALID_PARAMETER_VALUE if error.status_code < 500 else INTERNAL_ERROR
        return answer(code, str(error.detail or "Malformed request."), status=error.status_code)
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=error)
    return answer(INTERNAL_ERROR, "The server failed; its log says why.")


def _malformed(error: RequestValidationError) -> str:
    """FastAPI's validation errors in MLflow's words (``Missing value for required parameter
    'name'.``), the first few of them."""
    problems = []
    for item in error.errors()[:5]:
        where = [str(p) for p in item.get("loc", ()) if p not in ("body", "query")]
        field = where[0] if where else ""
        if item.get("type") == "missing" and field:
            problems.append(f"Missing value for required parameter '{field}'.")
        elif field:
            shown = repr(item.get("input"))
            shown = shown if len(shown) <= 80 else shown[:80] + "..."
            problems.append(
                f"Invalid value {shown} for parameter '{'.'.join(where)}': "
                f"{item.get('msg', 'invalid')}."
            )
        else:
            problems.append(f"Malformed request: {item.get('msg', 'invalid')}.")
    return " ".join(problems) or "Malformed request."


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class MlflowRoute(APIRoute):
    """A route whose every failure, from the token check to the endpoint, answers in MLflow's
    shape: caught here, inside the route, before the application's handlers would answer in
    modelplane's."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def mlflow_shaped(request: Request) -> Response:
            try:
                return await handler(request)
            except Exception as error:  # every failure is answered, none leaks
                return translated(error, request)

        return mlflow_shaped
