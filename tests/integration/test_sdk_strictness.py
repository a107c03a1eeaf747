"""Bad input to the SDK gets a typed, clear error, on SQLite and PostgreSQL.

Misspelt keywords are refused (ZenML's own options are tolerated with a warning), a
stage-selected ``Model`` answers ``.version`` with the version's name, and ``..._or_prefix``
parameters accept an unambiguous id prefix, as in ZenML.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Callable
from typing import Any
from uuid import UUID

import pytest

from modelplane import Model, log_metadata, pipeline, step
from modelplane.artifacts.utils import save_artifact
from modelplane.client import Client
from modelplane.enums import ModelStages
from modelplane.exceptions import (
    AmbiguousPrefixError,
    ModelplaneIgnoredOptionWarning,
    NotFoundError,
    UnexpectedOptionError,
    ValidationError,
)
from tests.conftest import store_of
from tests.log_reading import log_head


def _ignored_options(call: Callable[[], Any]) -> tuple[Any, list[str]]:
    """What ``call`` returns and the messages of the ignored-option warnings it gave."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = call()
    messages = [
        str(w.message) for w in caught if issubclass(w.category, ModelplaneIgnoredOptionWarning)
    ]
    return result, messages


# ------------------------------------------------------------------- misspelt keywords


def test_misspelt_keywords_are_type_errors_and_append_nothing(client: Client) -> None:
    before = log_head(client)
    with pytest.raises(TypeError, match=r"'licence' \(did you mean 'license'\?\)"):
        client.create_model("iris", licence="MIT")  # type: ignore[call-arg]
    with pytest.raises(UnexpectedOptionError, match=r"Model\(\).*'versoin'.*'version'"):
        Model(name="iris", versoin="1")
    with pytest.raises(TypeError, match=r"pipeline\(\).*'modle'.*did you mean 'model'"):

        @pipeline(modle=Model(name="iris"))
        def training() -> None: ...

    with pytest.raises(TypeError, match=r"step\(\).*'enable_cach'.*'enable_cache'"):

        @step(enable_cach=False)
        def train() -> None: ...

    with pytest.raises(TypeError, match=r"unexpected keyword argument 'zzz'$"):
        Model(name="iris", zzz=1)  # nothing close: no suggestion
    assert log_head(client) == before
    with pytest.raises(NotFoundError):
        client.get_model("iris")


def test_zenml_options_are_accepted_with_a_warning(client: Client) -> None:
    created, warned = _ignored_options(
        lambda: client.create_model("iris", license="MIT", save_models_to_registry=False)
    )
    assert created.license == "MIT"
    assert warned == [
        "create_model(): the ZenML option 'save_models_to_registry' has no effect in "
        "modelplane and is ignored."
    ]
    model, warned = _ignored_options(
        lambda: Model(name="iris", suppress_class_validation_warnings=True, ethics="ok")
    )
    assert model.ethics == "ok" and len(warned) == 1

    def decorate() -> Any:
        @step(experiment_tracker="mlflow", settings={"resources": {}}, enable_cache=False)
        def train() -> int:
            return 3

        @pipeline(model=Model(name="iris"), tags=["nightly"], on_failure=print, enable_cache=False)
        def training() -> None:
            train()

        return training

    training, warned = _ignored_options(decorate)
    assert sorted(warned) == sorted(
        f"{where}(): the ZenML option '{key}' has no effect in modelplane and is ignored."
        for where, key in [
            ("step", "experiment_tracker"),
            ("step", "settings"),
            ("pipeline", "tags"),
            ("pipeline", "on_failure"),
        ]
    )  # enable_cache is modelplane's own (recorded): no warning
    run = training()
    assert run.status == "completed" and run.model_version_id is not None


def test_model_version_id_picks_that_version(client: Client) -> None:
    client.create_model("iris")
    first = client.create_model_version("iris", name="1.0")
    client.create_model_version("iris", name="2.0")
    model = Model(name="iris", model_version_id=str(first.id))
    assert model.version == "1.0" and model.id == first.id

    @pipeline(model=Model(name="iris", model_version_id=first.id))
    def training() -> None: ...

    run = training()
    assert run.model_version_id == first.id
    assert client.list_model_versions("iris").total == 2  # no version created for the run

    before = log_head(client)
    with pytest.raises(ValidationError, match="model_version_id"):
        Model(name="iris", model_version_id="not-an-id")

    @pipeline(model=Model(name="iris", model_version_id=UUID(int=7)))
    def unknown() -> None: ...

    with pytest.raises(NotFoundError, match="has no version with id"):
        unknown()
    assert log_head(client) == before


# ------------------------------------------------------- Model.version of a selector


def _two_versions_first_in_production(client: Client) -> None:
    client.create_model("iris")
    client.create_model_version("iris", name="1.0")
    client.create_model_version("iris", name="2.0")
    client.update_model_version("iris", "1.0", stage=ModelStages.PRODUCTION)


def test_version_resolves_a_selector_on_first_access(client: Client) -> None:
    _two_versions_first_in_production(client)
    before = log_head(client)

    production = Model(name="iris", version=ModelStages.PRODUCTION)
    assert production.version == "1.0"  # first access: no .id / .number needed before
    assert production.requested_version is ModelStages.PRODUCTION
    assert "production" in repr(production) and "'1.0'" in repr(production)
    assert Model(name="iris", version="production").version == "1.0"
    assert Model(name="iris", version=ModelStages.LATEST).version == "2.0"
    assert Model(name="iris", version="latest").number == 2
    assert Model(name="iris", version=1).version == "1.0"  # a number answers its name
    assert Model(name="iris", version="2").version == "2.0"
    assert Model(name="iris", version="1.0").version == "1.0"
    assert Model(name="iris", version="run-{date}").version == "run-{date}"  # a template
    unversioned = Model(name="iris")
    assert unversioned.version is None  # "a new version per run": nothing to resolve yet
    assert unversioned.number == 2 and unversioned.version == "2.0"  # reads use the latest
    with pytest.raises(NotFoundError, match="staging"):
        _ = Model(name="iris", version=ModelStages.STAGING).version
    assert log_head(client) == before, "reading .version outside a run creates nothing"

    production.version = 2  # selecting again forgets the resolution
    assert production.requested_version == 2 and production.version == "2.0"


def test_pipelines_read_the_requested_selector_not_the_resolved_name(client: Client) -> None:
    _two_versions_first_in_production(client)
    inference_model = Model(name="iris", version=ModelStages.PRODUCTION)
    assert inference_model.version == "1.0"
    client.update_model_version("iris", "2.0", stage=ModelStages.PRODUCTION, force=True)

    @pipeline(model=inference_model)
    def inference() -> None: ...

    run = inference()  # the stage is resolved again when the run starts
    assert run.model_version_how == "stage" and run.stage == "production"
    assert run.model_version_id == client.get_model_version("iris", "2.0").id

    training_model = Model(name="iris")
    assert training_model.number == 2  # read as the latest outside a run...

    @pipeline(model=training_model)
    def training() -> None: ...

    runs = [training(), training()]  # ...and still a new version per run
    by_id = client.backend.get_model_version_by_id
    numbers = [by_id(r.model_version_id).number for r in runs]  # type: ignore[arg-type]
    assert numbers == [3, 4] and [r.model_version_how for r in runs] == ["created", "created"]


# ------------------------------------------------------------------------ id prefixes


def test_run_id_prefix(client: Client) -> None:
    registry = store_of(client).registry
    started = registry.start_run("nightly", pipeline="p", actor="tester")
    full = str(started.id)
    for prefix in (full[:6], full[:13], started.id.hex[:11], full[:8].upper()):
        assert client.get_pipeline_run(prefix).id == started.id, prefix
    log_metadata({"gpu": True}, run_id_name_or_prefix=full[:10])
    assert client.get_pipeline_run("nightly").run_metadata["gpu"].value is True

    shared = "abcdef01-2345-4678-"
    for n in range(3):
        crafted = UUID(f"{shared}{8 + n:x}abc-000000000000")
        registry.start_run(f"crafted-{n}", pipeline="p", actor="tester", run_id=crafted)
    before = log_head(client)
    with pytest.raises(
        AmbiguousPrefixError, match="3 pipeline runs have an id starting with 'abc'"
    ):
        client.get_pipeline_run("abc")
    with pytest.raises(AmbiguousPrefixError, match="use a longer prefix"):
        log_metadata({"gpu": False}, run_id_name_or_prefix="abcdef0123454678")
    assert log_head(client) == before, "an ambiguous prefix logs nothing"
    assert client.get_pipeline_run(f"{shared}9").name == "crafted-1"
    assert client.get_pipeline_run("abcdef0123454678a").name == "crafted-2"  # no dashes
    for unknown in ("0000000", "fedcba", "xyz", ""):
        if full.startswith(unknown) and unknown:
            continue
        with pytest.raises(NotFoundError):
            client.get_pipeline_run(unknown)


def test_artifact_version_id_prefix(client: Client) -> None:
    saved = [save_artifact("scores", [n]) for n in range(17)]  # 17 ids: two share a first digit
    ids = [str(s.id) for s in saved]
    for artifact in saved:
        text = str(artifact.id)
        unique = next(
            text[:n] for n in range(1, 37) if sum(i.startswith(text[:n]) for i in ids) == 1
        )
        assert client.get_artifact_version(unique).id == artifact.id
        log_metadata({"seen": True}, artifact_version_id=unique)
    first_digits = Counter(i[0] for i in ids)
    digit, count = first_digits.most_common(1)[0]
    assert count >= 2
    with pytest.raises(AmbiguousPrefixError, match=f"{count} artifact versions have an id"):
        client.get_artifact_version(digit)
    with pytest.raises(NotFoundError):
        client.get_artifact_version(ids[0][:8], version=1)  # with a version: names only
    unused = next(c for c in "0123456789abcdef" if c not in first_digits)
    with pytest.raises(NotFoundError):
        client.get_artifact_version(unused)

    named = save_artifact(ids[0][:8], "a name that looks like a prefix")
    assert client.get_artifact_version(ids[0][:8]).id == named.id  # a name wins, as in ZenML
