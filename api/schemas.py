"""Request bodies, and the response schemas OpenAPI shows, one per resource.

Response schemas are derived from the SDK's response dataclasses (``modelplane.responses``)
through the same field list the wire encoder uses (``modelplane.backend.wire``), so the
documented shape is the encoded shape. Request bodies are written out here: they are the
API's own words (ZenML's resource style), checked by pydantic before a use case runs.
"""

from __future__ import annotations

import functools
import typing
from datetime import datetime
from typing import Any, Generic, TypeVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StrictInt, create_model

from modelplane import responses
from modelplane.backend.wire import public_fields
from modelplane.webhooks import responses as webhook_responses

T = TypeVar("T")


@functools.cache
def schema_of(cls: type) -> type[BaseModel]:
    """A pydantic model with the public fields of response dataclass ``cls``."""
    fields: dict[str, Any] = {}
    for name, hint, default in public_fields(cls):
        fields[name] = (_schema_hint(hint), default)
    model: type[BaseModel] = create_model(  # type: ignore[call-overload]
        cls.__name__.removesuffix("Response") or cls.__name__, **fields
    )
    return model


def _schema_hint(hint: Any) -> Any:
    import dataclasses

    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return schema_of(hint)
    if origin is list:
        return list[_schema_hint(args[0])]  # type: ignore[misc]
    if origin is dict:
        return dict[args[0], _schema_hint(args[1])]  # type: ignore[misc,valid-type]
    return hint


class Page(BaseModel, Generic[T]):
    """ZenML's page shape, plus the cursor of the next page (None on the last)."""

    index: int
    max_size: int
    total_pages: int
    total: int
    items: list[T]
    next_cursor: str | None = None


Model = schema_of(responses.ModelResponse)
ModelVersion = schema_of(responses.ModelVersionResponse)
StageChange = schema_of(responses.StageChange)
AliasChange = schema_of(responses.AliasChange)
LoggedEvent = schema_of(responses.LoggedEvent)
ArtifactVersion = schema_of(responses.ArtifactVersionResponse)
LinkedArtifact = schema_of(responses.LinkedArtifact)
ArtifactConsumer = schema_of(responses.ArtifactConsumer)
PipelineRun = schema_of(responses.PipelineRunResponse)
StepRun = schema_of(responses.StepRunResponse)
MetadataValue = schema_of(responses.MetadataValue)
ReplayResult = schema_of(responses.ReplayResult)
Token = schema_of(responses.TokenResponse)

_STRICT = ConfigDict(extra="forbid")


class ModelCreate(BaseModel):
    model_config = _STRICT
    name: str
    license: str | None = None
    description: str | None = None
    audience: str | None = None
    use_cases: str | None = None
    limitations: str | None = None
    trade_offs: str | None = None
    ethics: str | None = None
    tags: list[str] | None = None


class ModelUpdate(BaseModel):
    model_config = _STRICT
    name: str | None = None
    license: str | None = None
    description: str | None = None
    audience: str | None = None
    use_cases: str | None = None
    limitations: str | None = None
    trade_offs: str | None = None
    ethics: str | None = None
    add_tags: list[str] | None = None
    remove_tags: list[str] | None = None


class Deletion(BaseModel):
    model_config = _STRICT
    reason: str | None = None


class ModelVersionCreate(BaseModel):
    """``source`` (where the version's files are), ``run_id`` and ``run_link`` (the run that
    made it, in another system such as MLflow) are kept as given, for good."""

    model_config = _STRICT
    model: str = Field(description="The model's name or id.")
    name: str | None = None
    description: str | None = None
    tags: list[str] | None = None
    source: str | None = None
    run_id: str | None = None
    run_link: str | None = None


class AliasSet(BaseModel):
    """The version an alias is to name (a number, name, id or stage), and why."""

    model_config = _STRICT
    version: StrictInt | str
    reason: str | None = None


class KeyValueTagSet(BaseModel):
    """A key-value tag's value (any text, the empty string included)."""

    model_config = _STRICT
    value: str


class ModelVersionUpdate(BaseModel):
    """``expected_holder``: promote only if ``stage`` is held by this version (name, number
    or id), or with ``"none"`` only if it is empty; else 412 and nothing appended."""

    model_config = _STRICT
    stage: str | None = None
    force: bool = False
    expected_holder: str | StrictInt | None = None
    reason: str | None = None
    name: str | None = None
    description: str | None = None
    add_tags: list[str] | None = None
    remove_tags: list[str] | None = None


class MetadataLog(BaseModel):
    """Metadata to log on a model version, artifact version or run (``target_id``)."""

    model_config = _STRICT
    metadata: dict[str, Any]
    run_id: UUID | None = None
    step: str | None = None


class ArtifactVersionRecord(BaseModel):
    """A stored value (uploaded first to ``PUT /artifact_store/{content_hash}``) to record as
    the next version of artifact ``name``."""

    model_config = _STRICT
    name: str
    content_hash: str
    materializer: str
    data_type: str
    artifact_type: str
    size_bytes: int = Field(ge=0)
    tags: list[str] | None = None
    run_id: UUID | None = None
    step: str | None = None
    link_to: UUID | None = None
    link_kind: str = "data"


class ArtifactLink(BaseModel):
    model_config = _STRICT
    artifact_version_id: UUID
    kind: str = "data"
    run_id: UUID | None = None
    step: str | None = None


class RunStart(BaseModel):
    model_config = _STRICT
    id: UUID
    name: str
    pipeline: str
    model_version_id: UUID | None = None
    model_version_how: str | None = None
    stage: str | None = None
    parameters: dict[str, Any] = Field(default_factory=dict)


class StepFinish(BaseModel):
    model_config = _STRICT
    inputs: dict[str, UUID] = Field(default_factory=dict)
    outputs: dict[str, UUID] = Field(default_factory=dict)
    duration_ms: float = Field(ge=0)
    error: str | None = None


class RunFinish(BaseModel):
    model_config = _STRICT
    status: str
    error: str | None = None


class TokenCreate(BaseModel):
    model_config = _STRICT
    name: str
    role: str = "read"


class CreatedToken(BaseModel):
    token: str
    name: str
    role: str


class Replay(BaseModel):
    model_config = _STRICT
    until: int | datetime | None = None


class ErrorDetail(BaseModel):
    """The exception's class name (what the SDK raises again) and message; some errors carry
    more fields (``StageOccupiedError``: ``stage``, ``holder``; ``PreconditionFailedError``:
    ``stage``, ``holder`` (null: empty), ``expected``)."""

    model_config = ConfigDict(extra="allow")
    type: str
    message: str


class ErrorBody(BaseModel):
    """Every error answer's body."""

    error: ErrorDetail


class Health(BaseModel):
    status: str


class Version(BaseModel):
    version: str
    api: str


class Caller(BaseModel):
    name: str
    role: str


class StoredEvent(BaseModel):
    """One event as the log stores it; ``state`` is its encoded body, base64."""

    position: int
    originator_id: UUID
    originator_version: int
    topic: str
    state: str


class LogPage(BaseModel):
    """A page of ``GET /log``: ``position`` is ``until`` resolved (ask the next pages with
    it), ``remaining`` the events after ``after`` up to it, this page's included."""

    position: int
    remaining: int
    events: list[StoredEvent]


# ------------------------------------------------------------------ webhooks

Webhook = schema_of(webhook_responses.WebhookResponse)
CreatedWebhook = schema_of(webhook_responses.CreatedWebhook)
WebhookDelivery = schema_of(webhook_responses.WebhookDelivery)


class WebhookCreate(BaseModel):
    """``events``: event type names (``Model.StageChanged``) or ``["*"]`` for all; ``model``:
    only that model's events (by name, every life of it); ``secret``: the signing key (16 to
    1024 visible ASCII characters; none: one is generated and answered once)."""

    model_config = _STRICT
    url: str
    events: list[str] = Field(default_factory=lambda: ["*"])
    model: str | None = None
    secret: str | None = None
