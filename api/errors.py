"""Every failure a route can answer with, as ``{"error": {"type", "message"}}`` and a status.

The type is the exception's class name, which the HTTP backend raises again on the client
(``modelplane.backend.wire``), so remote code catches what local code catches. Extra fields
some errors carry (the stage and holder of ``StageOccupiedError`` and of
``PreconditionFailedError``) travel beside them. Nothing unexpected leaks: a bug answers 500
with a generic message and the traceback goes to the server's log only.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from modelplane.backend.errors import AuthenticationError, PayloadTooLargeError
from modelplane.domain.errors import (
    ArtifactCorruptedError,
    ConcurrencyError,
    EntityExistsError,
    NotFoundError,
    PermissionDeniedError,
    PreconditionFailedError,
    RegistryError,
    RunEndedError,
    StageOccupiedError,
    ValidationError,
)

from .responses import JSON
from .schemas import ErrorBody

log = logging.getLogger("modelplane.api")

#: the error answers a route under /api/v1 may give, documented on every route (OpenAPI) so a
#: client, and a schema-driven test, knows them; 422 replaces FastAPI's own shape, never sent
RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (400, "Invalid input: a name, a stage, a hash the registry refuses."),
        (401, "No API token, or a malformed, unknown or revoked one."),
        (403, "The token's role does not allow this."),
        (404, "No such model, version, run, artifact or token."),
        (409, "A conflict: the name exists, the stage is held, the run has ended."),
        (412, "A precondition failed: the stage is not held by the expected_holder."),
        (413, "The body is over the server's limit."),
        (422, "A malformed request: JSON, a parameter or a body field of the wrong type."),
        (500, "The server failed; its log says why."),
    )
}


#: most specific first: the first class an error is an instance of gives its status
_STATUSES: tuple[tuple[type[BaseException], int], ...] = (
    (AuthenticationError, 401),
    (PermissionDeniedError, 403),
    (PayloadTooLargeError, 413),
    (NotFoundError, 404),
    (PreconditionFailedError, 412),
    (StageOccupiedError, 409),
    (EntityExistsError, 409),
    (RunEndedError, 409),
    (ConcurrencyError, 409),
    (ValidationError, 400),
    (ArtifactCorruptedError, 500),
)


def status_of(error: RegistryError) -> int:
    for kind, status in _STATUSES:
        if isinstance(error, kind):
            return status
    return 400


def error_body(kind: str, message: str, **extra: Any) -> dict[str, Any]:
    return {"error": {"type": kind, "message": message, **extra}}


def _extra(error: RegistryError) -> dict[str, Any]:
    if isinstance(error, StageOccupiedError):
        return {"stage": error.stage, "holder": error.holder}
    if isinstance(error, RunEndedError):
        return {"status": error.status, "run_error": error.error}
    if isinstance(error, PreconditionFailedError):
        return {"stage": error.stage, "holder": error.holder, "expected": error.expected}
    return {}


def registry_error_response(error: RegistryError) -> JSON:
    status = status_of(error)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    body = error_body(type(error).__name__, str(error), **_extra(error))
    return JSON(body, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    """Route every failure through one JSON shape."""

    async def on_registry_error(_request: Request, error: Exception) -> JSON:
        assert isinstance(error, RegistryError)
        return registry_error_response(error)

    async def on_malformed(_request: Request, error: Exception) -> JSON:
        assert isinstance(error, RequestValidationError)
        problems = []
        for item in error.errors()[:10]:
            where = ".".join(str(p) for p in item.get("loc", ()) if p != "body")
            problems.append(f"{where}: {item.get('msg', 'invalid')}" if where else item["msg"])
        message = "Malformed request: " + "; ".join(problems)
        return JSON(error_body("RequestValidationError", message), status_code=422)

    async def on_http(_request: Request, error: Exception) -> JSON:
        assert isinstance(error, StarletteHTTPException)
        kind = {404: "NotFoundError", 405: "MethodNotAllowed"}.get(error.status_code, "HTTPError")
        message = str(error.detail) if error.detail else kind
        if error.status_code == 404 and message == "Not Found":
            message = "No such route."
        return JSON(error_body(kind, message), status_code=error.status_code, headers=error.headers)

    async def on_bug(request: Request, error: Exception) -> JSON:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        body = error_body("InternalError", "The server failed; its log says why.")
        return JSON(body, status_code=500)

    app.add_exception_handler(RegistryError, on_registry_error)
    app.add_exception_handler(RequestValidationError, on_malformed)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_bug)
