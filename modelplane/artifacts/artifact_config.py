"""``ArtifactConfig``: how a step output is named, tagged and linked to the run's model.

The name may be positional, as the seed document writes it: ``ArtifactConfig("agent_config")``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from modelplane.domain.errors import ValidationError
from modelplane.domain.names import normalise_name, normalise_names

from ..enums import ArtifactType


class ArtifactConfig:
    def __init__(
        self,
        name: str | None = None,
        version: str | int | None = None,
        tags: Iterable[str] | None = None,
        run_metadata: dict[str, Any] | None = None,
        artifact_type: ArtifactType | str | None = None,
        is_model_artifact: bool = False,
        is_deployment_artifact: bool = False,
    ) -> None:
        if is_model_artifact and is_deployment_artifact:
            msg = "An artifact is a model artifact or a deployment artifact, not both."
            raise ValidationError(msg)
        self.name = normalise_name(name)  # NFC, as the registry stores names
        self.version = version
        self.tags = normalise_names(list(tags or []))
        self.run_metadata = dict(run_metadata or {})
        self.artifact_type = None if artifact_type is None else ArtifactType(str(artifact_type))
        self.is_model_artifact = is_model_artifact
        self.is_deployment_artifact = is_deployment_artifact

    def link_kind(self, default: str = ArtifactType.DATA) -> str:
        """The kind of link to the model version: explicit flags, then type, then default."""
        if self.is_model_artifact:
            return ArtifactType.MODEL.value
        if self.is_deployment_artifact:
            return ArtifactType.DEPLOYMENT.value
        if self.artifact_type is not None:
            return self.artifact_type.value
        return str(default)

    def __repr__(self) -> str:
        return f"ArtifactConfig(name={self.name!r}, kind={self.link_kind()!r})"
