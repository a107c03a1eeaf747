"""The SDK's spellings of domain names agree with their homes in ``modelplane.domain``.

Link kinds live in ``domain.artifact`` (spelled again in ``enums.ArtifactType`` only because
that module loads the eventsourcing library), stage names in ``domain.stages``, the model card
fields in ``domain.model_card.DESCRIPTIVE_FIELDS``. The ZenML-shaped signatures list the card
fields by hand for users and IDEs; these tests catch one that drifts from the home.
"""

from __future__ import annotations

import dataclasses
import inspect
from pathlib import Path
from typing import Any

import pytest

from modelplane.artifacts import materializers as mat
from modelplane.artifacts.materializers import Materializer, register_materializer
from modelplane.artifacts.utils import save_artifact
from modelplane.client import Client
from modelplane.domain import artifact, stages
from modelplane.domain.model_card import DESCRIPTIVE_FIELDS
from modelplane.enums import ArtifactType, ModelStages
from modelplane.model import Model
from modelplane.responses import ModelResponse


def test_artifact_types_are_the_domain_link_kinds() -> None:
    assert tuple(kind.value for kind in ArtifactType) == artifact.LINK_KINDS
    assert ArtifactType.SERVICE is ArtifactType.DEPLOYMENT
    assert (mat.DATA, mat.MODEL) == (artifact.DATA, artifact.MODEL)
    assert mat.SERVICE == artifact.DEPLOYMENT


def test_model_stages_are_the_domain_stages() -> None:
    assert tuple(stage.value for stage in ModelStages) == stages.ALL


@pytest.mark.parametrize(
    "signature",
    [Client.create_model, Client.update_model, Model.__init__],
    ids=["create_model", "update_model", "Model"],
)
def test_every_card_field_is_a_keyword(signature: Any) -> None:
    assert set(DESCRIPTIVE_FIELDS) <= set(inspect.signature(signature).parameters)


def test_every_card_field_is_read_back() -> None:
    assert set(DESCRIPTIVE_FIELDS) <= {f.name for f in dataclasses.fields(ModelResponse)}
    model = Model(name="m", **{name: f"{name}!" for name in DESCRIPTIVE_FIELDS})
    assert {name: getattr(model, name) for name in DESCRIPTIVE_FIELDS} == {
        name: f"{name}!" for name in DESCRIPTIVE_FIELDS
    }


class Endpoint:
    def __init__(self, url: str) -> None:
        self.url = url


class EndpointMaterializer(Materializer):
    """A materializer for what a deployment produces, typed as ZenML spells it."""

    types = (Endpoint,)
    artifact_type = mat.SERVICE

    def to_file(self, value: Any) -> tuple[str, bytes] | None:
        return ("url.txt", value.url.encode())

    def load(self, folder: Path, data_type: str) -> Any:
        return Endpoint((folder / "url.txt").read_text())


@pytest.fixture
def isolated_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mat.REGISTRY, "_user", dict(mat.REGISTRY._user))
    monkeypatch.setattr(mat.REGISTRY, "_by_name", dict(mat.REGISTRY._by_name))


@pytest.mark.usefixtures("isolated_registry")
def test_a_service_materializer_links_a_deployment_artifact(client: Client) -> None:
    """``SERVICE`` once said "service", a kind the registry refuses: nothing could be saved."""
    register_materializer(EndpointMaterializer)
    client.create_model("served")
    version = client.create_model_version("served", name="v1")
    model = Model(name="served", version="v1")
    saved = save_artifact("endpoint", Endpoint("http://svc"), model=model)
    assert saved.artifact_type == "deployment"
    linked = version.get_deployment_artifact("endpoint")
    assert linked == saved
    assert linked is not None and linked.load().url == "http://svc"
