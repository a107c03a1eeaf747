"""``Model``: a handle on one model version, as users write it in code.

``Model(name="iris_classifier", version="1.2.3")`` names a version; ``version`` may also be a
number, an id or a ``ModelStages`` value. That selector is kept as ``requested_version``;
``.version`` is the name of the version it picks, resolved once on first use (a stage or a
number is looked up then; a name is its own answer). Outside a pipeline run a ``Model`` only
reads: looking at ``.version``, ``.id`` or ``.number`` never creates anything
(``version=None`` means the latest version for reads, a new version per pipeline run).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from modelplane.domain.errors import NotFoundError, ValidationError
from modelplane.domain.names import is_ascii_digits, normalise_name, normalise_names
from modelplane.domain.stages import selected_stage

from .client import Client
from .enums import ModelStages
from .options import MODEL_IGNORED, check_options
from .responses import (
    ArtifactVersionResponse,
    MetadataValue,
    ModelVersionResponse,
    PipelineRunResponse,
)

#: What a ``Model`` may be asked for: a version name, number, id or stage (None: see above).
VersionSelector = str | int | UUID | ModelStages | None


class Model:
    def __init__(
        self,
        name: str,
        version: VersionSelector = None,
        license: str | None = None,
        description: str | None = None,
        audience: str | None = None,
        use_cases: str | None = None,
        limitations: str | None = None,
        trade_offs: str | None = None,
        ethics: str | None = None,
        tags: list[str] | None = None,
        model_version_id: str | UUID | None = None,
        source: str | None = None,
        run_id: str | None = None,
        run_link: str | None = None,
        **zenml_options: Any,
    ) -> None:
        """``model_version_id`` (ZenML's) picks a version by id and overrides ``version``.

        ``source``, ``run_id`` and ``run_link`` (MLflow's: where the files are, the run that
        made them in another system) are given to the version a pipeline run creates.
        """
        check_options("Model", Model.__init__, zenml_options, MODEL_IGNORED)
        if model_version_id is not None:
            from modelplane.projections.queries.ids import as_uuid

            version = as_uuid(model_version_id)
            if version is None:
                msg = f"model_version_id must be a model version id, not {model_version_id!r}."
                raise ValidationError(msg)
        self.name = normalise_name(name)  # NFC, as the registry stores names
        self._requested: VersionSelector = normalise_name(version)
        self.license = license
        self.description = description
        self.audience = audience
        self.use_cases = use_cases
        self.limitations = limitations
        self.trade_offs = trade_offs
        self.ethics = ethics
        self.tags = normalise_names(list(tags or []))
        self.source = source
        self.run_id = run_id
        self.run_link = run_link
        self._version_id: UUID | None = None
        self._version_name: str | None = None

    @property
    def requested_version(self) -> VersionSelector:
        """The selector as given (a stage, number, name, id or None), never resolved.

        Pipelines read this to decide what a run does: None creates a version, a stage or a
        number must exist, a name (a template) is got or created.
        """
        return self._requested

    @property
    def version(self) -> str | None:
        """The name of the version this model picks (a stage or number is resolved once).

        A plain name is returned as given, without a lookup (a template stays a template
        outside a run); None stays None until something resolves the model (``.id``...).
        """
        if self._version_name is None and _needs_lookup(self._requested):
            self._resolve()
        if self._version_name is not None:
            return self._version_name
        return None if self._requested is None else str(self._requested)

    @version.setter
    def version(self, value: VersionSelector) -> None:
        """Select another version: the previous resolution is forgotten."""
        self._requested = normalise_name(value)
        self._version_id = None
        self._version_name = None

    def __repr__(self) -> str:
        resolved = ""
        if self._version_name is not None and self._version_name != self._requested:
            resolved = f", resolved_version={self._version_name!r}"
        return f"Model(name={self.name!r}, version={self._requested!r}{resolved})"

    def _resolve(self) -> ModelVersionResponse:
        """The picked version, read fresh; the selector is looked up only the first time."""
        client = Client()
        if self._version_id is None:
            found = client.get_model_version(self.name, self._requested)
            self._version_id = found.id
        else:
            found = client.backend.get_model_version_by_id(self._version_id)
        self._version_name = found.name
        return found

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
        self,
        stage: ModelStages | str,
        force: bool = False,
        reason: str | None = None,
        expected_holder: str | int | UUID | None = None,
    ) -> None:
        """Promote this version; an occupied staging/production needs ``force=True``.

        ``expected_holder``: only if the stage is still held by that version (``"none"``:
        still empty), else ``PreconditionFailedError`` (see ``Client.update_model_version``).
        """
        version = self._resolve()
        Client().update_model_version(
            version.model_id,
            version.id,
            stage=stage,
            force=force,
            reason=reason,
            expected_holder=expected_holder,
        )


def _needs_lookup(selector: VersionSelector) -> bool:
    """Whether a selector names its version only through the store (stage, number, id)."""
    if selector is None:
        return False
    from modelplane.projections.queries.ids import as_uuid

    if isinstance(selector, (int, UUID)) or selected_stage(selector) is not None:
        return True
    return is_ascii_digits(selector) or as_uuid(selector) is not None
