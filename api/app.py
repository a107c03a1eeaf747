"""The FastAPI application: one router per resource under ``/api/v1``, tokens on every
route but ``/health``, errors as JSON, OpenAPI at ``/openapi.json`` and docs at ``/docs``.

``create_app`` is what uvicorn runs (``modelplane server start``; as a factory, so each
worker builds its own from the environment).
"""

from __future__ import annotations

from fastapi import FastAPI

from modelplane import head_watch
from modelplane.artifacts.content_store import ArtifactStore
from modelplane.store_handle import Store
from modelplane.webhooks import deliverer

from . import errors, mlflow
from .limits import BodyLimitMiddleware
from .paths import RawPathMiddleware
from .routers import (
    aliases,
    artifacts,
    events,
    key_value_tags,
    log,
    metadata,
    model_versions,
    models,
    runs,
    system,
    tokens,
    webhooks,
)
from .settings import Settings
from .state import ServerState

API_PREFIX = "/api/v1"


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings.from_environment()
    app = FastAPI(
        title="modelplane",
        summary="An event-sourced model registry: every change is an event in the log.",
        version="1",
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    store = Store(settings.store_url)
    watcher = head_watch.install(app, store)
    app.state.modelplane = ServerState(settings, store, ArtifactStore(), watcher)
    errors.install(app)
    routers = (system, models, model_versions, runs, artifacts, metadata, events, log, tokens)
    for module in (*routers, webhooks, aliases, key_value_tags):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(mlflow.router)  # MLflow's registry API, /api/2.0/mlflow
    app.add_middleware(
        BodyLimitMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_upload_bytes=settings.max_upload_bytes,
    )
    app.add_middleware(RawPathMiddleware)

    deliverer.install(app, store, watcher)  # before close_store: it stops first

    @app.on_event("shutdown")
    def close_store() -> None:
        store.close()

    return app
