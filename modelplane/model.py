"""``Model``: a handle on one model version, as users write it in code.

``Model(name="iris_classifier", version="1.2.3")`` names a version; ``version`` may also be a
number or a ``ModelStages`` value, resolved once to a concrete version on first use. Outside a
pipeline run a ``Model`` only reads: looking at ``.id`` or ``.number`` never creates anything
(``version=None`` means the latest version).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from domain.errors import NotFoundError

from .client import Client
from .enums import ModelStages
from .responses import (
    ArtifactVersionResponse,
    MetadataValue,
    ModelVersionResponse,
    PipelineRunResponse,
)


class Model:
    def __init__(
        self,
        name: str,
        version: str | int | ModelStages | None = None,
        license: str | None = None,
        description: str | None = None,
        audience: str | None = None,
        use_cases: str | None = None,
        limitations: str | None = None,
        trade_offs: str | None = None,
        ethics: str | None = None,
        tags: list[str] | None = None,
        **_ignored: Any,
    ) -> None:
        self.name = name
        self.version: str | int | ModelStages | None = version
        self.license = license
        self.description = description
        self.audience = audience
        self.use_cases = use_cases
        self.limitations = limitations
        self.trade_offs = trade_offs
        self.ethics = ethics
        self.tags = list(tags or [])
        self._version_id: UUID | None = None

    def __repr__(self) -> str:
        return f"Model(name={self.name!r}, version={self.version!r})"

    def _resolve(self) -> ModelVersionResponse:
        client = Client()
        if self._version_id is None:
            found = client.get_model_version(self.name, self.version)
            self._version_id = found.id
            self.version = found.name
            return found
        return client._version_by_id(self._version_id)

    @property
    def id(self) -> UUID:
        """The resolved version's id."""
        return self._resolve().id

    @property
    def model_id(self) -> UUID:
        return self._resolve().model_id

    @property
    def number(self) -> int:
        return self._resolve().number

    @property
    def stage(self) -> ModelStages:
        return self._resolve().stage

    @property
    def run_metadata(self) -> dict[str, MetadataValue]:
        return self._resolve().run_metadata

    def get_model_version(self) -> ModelVersionResponse:
        return self._resolve()

    # -- artifacts linked to the resolved version (None when absent) ------------------

    def get_artifact(
        self, name: str, version: str | int | None = None
    ) -> ArtifactVersionResponse | None:
        return self._resolve().get_artifact(name, version)

    def get_model_artifact(
        self, name: str, version: str | int | None = None
    ) -> ArtifactVersionResponse | None:
        return self._resolve().get_model_artifact(name, version)

    def get_data_artifact(
        self, name: str, version: str | int | None = None
    ) -> ArtifactVersionResponse | None:
        return self._resolve().get_data_artifact(name, version)

    def get_deployment_artifact(
        self, name: str, version: str | int | None = None
    ) -> ArtifactVersionResponse | None:
        return self._resolve().get_deployment_artifact(name, version)

    def load_artifact(self, name: str, version: str | int | None = None) -> Any:
        """The value of the newest linked version of artifact ``name``."""
        found = self.get_artifact(name, version)
        if found is None:
            version_name = self._resolve().name
            msg = f"Model '{self.name}' version '{version_name}' has no artifact named '{name}'."
            raise NotFoundError(msg)
        return found.load()

    @property
    def data_artifacts(self) -> dict[str, dict[str, ArtifactVersionResponse]]:
        return self._resolve().data_artifacts

    @property
    def model_artifacts(self) -> dict[str, dict[str, ArtifactVersionResponse]]:
        return self._resolve().model_artifacts

    @property
    def deployment_artifacts(self) -> dict[str, dict[str, ArtifactVersionResponse]]:
        return self._resolve().deployment_artifacts

    @property
    def pipeline_runs(self) -> dict[str, PipelineRunResponse]:
        return self._resolve().pipeline_runs

    def set_stage(
        self, stage: ModelStages | str, force: bool = False, reason: str | None = None
    ) -> None:
        """Promote this version; an occupied staging/production needs ``force=True``."""
        version = self._resolve()
        Client().update_model_version(
            version.model_id, version.id, stage=stage, force=force, reason=reason
        )
