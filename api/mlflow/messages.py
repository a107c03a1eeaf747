"""The request and response messages of MLflow's registry API (``model_registry.proto``), as
pydantic models: FastAPI checks requests with them, and OpenAPI documents both sides.

Requests follow MLflow's wire rules: a GET takes its fields as query parameters (numbers
arrive as strings, a repeated field as repeated keys), every other method a JSON body; fields
a request does not declare are ignored, as MLflow's server ignores what a newer client adds
(``model_id``, ``deployment_job_id``). Text that no store can hold (NUL, lone surrogates) is
refused here, as a bad value, before any lookup.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from modelplane.domain.names import is_valid_utf8


def _storable(text: str) -> str:
    if "\x00" in text or not is_valid_utf8(text):
        raise ValueError("text must not hold NUL characters or lone surrogates")
    return text


Text = Annotated[str, AfterValidator(_storable)]
#: a version number as MLflow sends it (a string; a JSON number is taken too)
Version = Annotated[Text | int, Field(description='The version number, e.g. `"3"`.')]


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")


# --------------------------------------------------------------------------- requests


class MlflowTag(Message):
    key: Text
    value: Text = ""


class CreateRegisteredModel(Message):
    name: Text
    tags: list[MlflowTag] = []
    description: Text | None = None


class RegisteredModelName(Message):
    name: Text


class RenameRegisteredModel(Message):
    name: Text
    new_name: Text


class UpdateRegisteredModel(Message):
    name: Text
    description: Text | None = None


class SetRegisteredModelTag(Message):
    name: Text
    key: Text
    value: Text


class DeleteRegisteredModelTag(Message):
    name: Text
    key: Text


class SetRegisteredModelAlias(Message):
    name: Text
    alias: Text
    version: Version


class RegisteredModelAlias(Message):
    name: Text
    alias: Text


class GetLatestVersions(Message):
    name: Text
    stages: list[Text] = []


class Search(Message):
    filter: Text | None = None
    max_results: int | None = None
    order_by: list[Text] = []
    page_token: Text | None = None


class CreateModelVersion(Message):
    name: Text
    source: Text
    run_id: Text | None = None
    tags: list[MlflowTag] = []
    run_link: Text | None = None
    description: Text | None = None


class ModelVersionRef(Message):
    name: Text
    version: Version


class UpdateModelVersion(ModelVersionRef):
    description: Text | None = None


class TransitionModelVersionStage(ModelVersionRef):
    stage: Text
    archive_existing_versions: bool = False


class SetModelVersionTag(ModelVersionRef):
    key: Text
    value: Text


class DeleteModelVersionTag(ModelVersionRef):
    key: Text


# -------------------------------------------------------------------------- responses


class MlflowEmpty(BaseModel):
    """MLflow's empty answer, ``{}``."""


class MlflowTagValue(BaseModel):
    key: str
    value: str


class MlflowAlias(BaseModel):
    alias: str
    version: str


class MlflowModelVersion(BaseModel):
    name: str
    version: str
    creation_timestamp: int
    last_updated_timestamp: int
    user_id: str | None = None
    current_stage: str
    description: str | None = None
    source: str | None = None
    run_id: str | None = None
    run_link: str | None = None
    status: str
    tags: list[MlflowTagValue] = []
    aliases: list[str] = []


class MlflowRegisteredModel(BaseModel):
    name: str
    creation_timestamp: int
    last_updated_timestamp: int
    user_id: str | None = None
    description: str | None = None
    latest_versions: list[MlflowModelVersion] = []
    tags: list[MlflowTagValue] = []
    aliases: list[MlflowAlias] = []


class RegisteredModelAnswer(BaseModel):
    registered_model: MlflowRegisteredModel


class RegisteredModelsPage(BaseModel):
    registered_models: list[MlflowRegisteredModel] = []
    next_page_token: str | None = None


class ModelVersionAnswer(BaseModel):
    model_version: MlflowModelVersion


class ModelVersionsAnswer(BaseModel):
    model_versions: list[MlflowModelVersion] = []


class ModelVersionsPage(ModelVersionsAnswer):
    next_page_token: str | None = None


class DownloadUri(BaseModel):
    artifact_uri: str
