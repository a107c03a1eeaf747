"""MLflow's Model Registry REST API under ``/api/2.0/mlflow``, so an unmodified ``MlflowClient``
(``tracking_uri`` and ``registry_uri`` the server's URL, ``MLFLOW_TRACKING_TOKEN`` a modelplane
token) registers, versions, tags, aliases and promotes models in modelplane.

A translation, not a second registry: every route calls the ``LocalBackend`` bound to the
caller (``api.auth``), so MLflow's writes are events like any other, recorded with the token's
name as actor, and modelplane's SDK, CLI and ``/api/v1`` see them (history, time travel).
``errors.py`` answers every failure in MLflow's shape, unknown routes and methods included
(below); ``messages.py`` holds the wire messages, ``convert.py`` the JSON of models and
versions, ``filters.py``, ``ordering.py`` and ``paging.py`` the search grammar, order and
page tokens, ``search.py`` the searches, ``lookups.py`` MLflow's way of naming things.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from starlette.responses import Response

from . import model_versions, registered_models
from .errors import ENDPOINT_NOT_FOUND, RESPONSES, MlflowRoute, answer

PREFIX = "/api/2.0/mlflow"

router = APIRouter(prefix=PREFIX, tags=["mlflow"], responses=RESPONSES, route_class=MlflowRoute)
router.include_router(registered_models.router)
router.include_router(model_versions.router)
#: path -> the methods it is served with (none of these paths takes parameters)
_ENDPOINTS: dict[str, set[str]] = {}
for _module in (registered_models, model_versions):
    for _route in _module.router.routes:
        if isinstance(_route, APIRoute):
            _ENDPOINTS.setdefault(PREFIX + _route.path, set()).update(_route.methods or ())


@router.api_route(
    "/{path:path}",
    methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
    include_in_schema=False,
)
async def unknown(request: Request, path: str) -> Response:
    """Any other request under the prefix, in MLflow's shape: a path served with other methods
    is 405, anything else 404; both ``ENDPOINT_NOT_FOUND``, the code on which MLflow's client
    tries an RPC's next method (``get_latest_versions``: POST, then GET)."""
    allowed = sorted(_ENDPOINTS.get(request.url.path, ()))
    where = f"{request.method} {request.url.path}"
    if allowed:
        methods = ", ".join(allowed)
        message = f"{where} is not served; this endpoint takes {methods}."
        return answer(ENDPOINT_NOT_FOUND, message, status=405, headers={"Allow": methods})
    return answer(ENDPOINT_NOT_FOUND, f"No MLflow endpoint {where} on this server.")


__all__ = ["PREFIX", "router"]
