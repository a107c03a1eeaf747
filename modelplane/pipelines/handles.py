"""What a step call inside a pipeline returns, and lazy lookups made in a pipeline body.

A step inside a pipeline hands back ``StepArtifact`` handles rather than values: passing one
to another step is what tells the registry that the second step consumed the first one's
output (lineage), and the consumer still receives the loaded value. A ``LazyArtifact`` is a
model-artifact lookup written in the pipeline body (``model.get_model_artifact("x")``) and
resolved only when the step that receives it runs, as ZenML resolves it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from uuid import UUID

from modelplane.domain.errors import NotFoundError

from ..client import Client
from ..enums import ArtifactType
from ..responses import ArtifactVersionResponse

if TYPE_CHECKING:
    from ..artifacts.content_store import StoredArtifact


@dataclass(frozen=True)
class StepArtifact:
    """One recorded output of a step run: its artifact version, and where its bytes are."""

    name: str
    id: UUID
    number: int
    step: str
    run_id: UUID
    stored: StoredArtifact = field(repr=False, compare=False)

    @property
    def version(self) -> str:
        return str(self.number)

    def load(self) -> Any:
        """The value, read back from the artifact store (no database round trip)."""
        label = f"artifact {self.name} version {self.number}"
        return Client().backend.load_artifact(self.stored, label)

    @property
    def artifact_version(self) -> ArtifactVersionResponse:
        return Client().get_artifact_version(self.id)


@dataclass(frozen=True)
class LazyArtifact:
    """``get_<kind>_artifact(name, version)`` of a model version, looked up when used."""

    model_name: str
    model_version_id: UUID
    name: str
    version: str | int | None = None
    kind: str | None = None

    def resolve(self) -> ArtifactVersionResponse:
        """The artifact version now linked; a missing one is an error naming it."""
        version = Client().backend.get_model_version_by_id(self.model_version_id)
        getter = {
            None: version.get_artifact,
            ArtifactType.MODEL.value: version.get_model_artifact,
            ArtifactType.DATA.value: version.get_data_artifact,
            ArtifactType.DEPLOYMENT.value: version.get_deployment_artifact,
        }[self.kind]
        found = getter(self.name, self.version)
        if found is None:
            kind = f"{self.kind} artifact" if self.kind else "artifact"
            msg = (
                f"Model '{self.model_name}' version '{version.name}' has no {kind} named "
                f"'{self.name}'" + (f" (version {self.version})." if self.version else ".")
            )
            raise NotFoundError(msg)
        return found

    def load(self) -> Any:
        return self.resolve().load()
