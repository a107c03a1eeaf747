"""Input validation, on SQLite and PostgreSQL: what one store would accept and the other
refuse is refused by both, as a typed error, before anything is appended; what users log is
read back exactly (NaN and infinities included, numpy scalars as Python numbers).
"""

from __future__ import annotations

import math
import unicodedata
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Annotated, Any, NamedTuple

import numpy as np
import orjson
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelplane import log_metadata, pipeline, step
from modelplane.artifacts.utils import save_artifact
from modelplane.backend.local import EVENTS_TABLE
from modelplane.client import Client
from modelplane.domain.names import as_number, normalise_name
from modelplane.domain.validation import clean_metadata, decode_metadata, encode_metadata
from modelplane.exceptions import (
    ConfigError,
    EntityExistsError,
    NotFoundError,
    RegistryError,
    ValidationError,
)
from modelplane.projections.log import EventLog
from modelplane.store_handle import close_all
from tests.conftest import store_of
from tests.log_reading import event_count

COMPOSED = "caf\u00e9"
DECOMPOSED = "cafe\u0301"
NON_FINITE = {
    "nan": math.nan,
    "inf": math.inf,
    "ninf": -math.inf,
    "nested": {"curve": [0.5, math.nan, math.inf], "deep": {"x": [-math.inf]}},
}
# user dicts shaped like the encoding's own tags must come back as they were logged
TAG_SHAPED = {
    "float_tag": {"$float": "NaN"},
    "int_tag": {"$int": "12"},
    "dict_tag": {"$dict": {"$float": "Infinity"}},
    "dollar_keys": {"$ref": 1, "$float": 2},
    "big": 2**100,
    "negative_big": -(2**70),
}


def _same(a: Any, b: Any) -> bool:
    """Equality where NaN equals NaN and types must match (True is not 1)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return (math.isnan(a) and math.isnan(b)) or a == b
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _values(client: Client, model: str = "m") -> dict[str, Any]:
    version = client.get_model_version(model)
    return {key: value.value for key, value in version.run_metadata.items()}


def _model_with_version(client: Client, name: str = "m") -> None:
    client.create_model(name)
    client.create_model_version(name)


# ----------------------------------------------------------------- metadata round trip


def test_non_finite_floats_and_big_ints_round_trip(client: Client) -> None:
    _model_with_version(client)
    logged = {**NON_FINITE, **TAG_SHAPED}
    log_metadata(logged, model_name="m")

    assert _same(_values(client), logged)
    event = client.list_events(limit=100_000)[-1]
    assert event.type.endswith("MetadataLogged")
    assert _same(event.payload["metadata"], logged)

    client.rebuild_projections()
    assert _same(_values(client), logged)
    # the log itself holds plain JSON, and no value was written as null
    with store_of(client).read() as conn:
        state = EventLog.named(EVENTS_TABLE).rows(conn, 0, limit=100_000)[-1][4]
    assert b"null" not in orjson.dumps(orjson.loads(state)["metadata"])


def test_run_parameters_and_step_metadata_round_trip(client: Client) -> None:
    @step
    def produce() -> Annotated[int, "numbers"]:
        log_metadata({"loss": math.nan, "tagged": {"$float": "NaN"}})  # the step's run
        log_metadata({"best": -math.inf, "tagged": {"$int": "1"}}, infer_artifact=True)
        return 1

    @pipeline
    def flow(threshold: float = math.inf) -> None:
        produce()

    run = flow()
    assert run.parameters["threshold"] == math.inf
    assert math.isnan(run.run_metadata["loss"].value)
    assert run.run_metadata["tagged"].value == {"$float": "NaN"}
    artifact = client.get_artifact_version("numbers")
    assert artifact.run_metadata["best"].value == -math.inf
    # checked when deferred, logged after the step: cleaning twice changes nothing
    assert artifact.run_metadata["tagged"].value == {"$int": "1"}

    client.rebuild_projections()
    again = client.get_pipeline_run(run.id)
    assert again.parameters["threshold"] == math.inf
    assert math.isnan(again.run_metadata["loss"].value)
    assert client.get_artifact_version("numbers").run_metadata["best"].value == -math.inf


def test_numpy_scalars_are_logged_as_python_values(client: Client) -> None:
    _model_with_version(client)
    log_metadata(
        {
            "f64": np.float64(0.5),
            "f32": np.float32(0.25),
            "i64": np.int64(7),
            "flag": np.bool_(True),
            "mean": pd.Series([1, 2]).mean(),
            "nan_mean": pd.Series([], dtype=float).mean(),
            "zero_d": np.array(3),
            "text": np.str_("x"),
            "inside": {"list": [np.int32(1), np.float16(1.5)]},
        },
        model_name="m",
    )
    values = _values(client)
    expected = {
        "f64": 0.5,
        "f32": 0.25,
        "i64": 7,
        "flag": True,
        "mean": 1.5,
        "nan_mean": math.nan,
        "zero_d": 3,
        "text": "x",
        "inside": {"list": [1, 1.5]},
    }
    assert _same(values, expected)
    client.rebuild_projections()
    assert _same(_values(client), expected)


def test_unloggable_metadata_is_refused_and_nothing_appended(client: Client) -> None:
    _model_with_version(client)
    before = event_count(client)
    refused: list[dict[str, Any]] = [
        {"k" * 300: 1},  # mp_metadata.key is String(255)
        {"a\x00b": 1},  # PostgreSQL refuses NUL in text
        {"k": "a\x00b"},
        {"k": {"nested\x00key": 1}},
        {"k": ["x", {"y": "\x00"}]},
        {"k": "\udcff"},  # a lone surrogate is not UTF-8
        {"\udcff": 1},
        {"k": np.zeros((2, 2))},
        {"k": np.datetime64("2024-01-01")},
        {"k": object()},
        {"k": 10**5000},
    ]
    for metadata in refused:
        with pytest.raises(ValidationError):
            log_metadata(metadata, model_name="m")
    nested: list[Any] = []
    nested.append(nested)  # a cycle
    with pytest.raises(ValidationError):
        log_metadata({"k": nested}, model_name="m")
    assert event_count(client) == before
    log_metadata({"k" * 255: 1}, model_name="m")  # the limit itself is accepted by both
    assert _values(client) == {"k" * 255: 1}


METADATA_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(st.characters(exclude_categories=())),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["a", "$float", "$int", "$dict", "$x"]) | st.text(),
            children,
            max_size=3,
        )
    ),
    max_leaves=12,
)


@given(METADATA_VALUES)
@settings(max_examples=300, deadline=None)
def test_encoding_is_lossless(value: Any) -> None:
    """Whatever is accepted comes back identical; the rest is a ValidationError."""
    try:
        encoded = encode_metadata({"k": value})
    except ValidationError:
        return
    stored = orjson.loads(orjson.dumps(encoded))  # what the log and JSON columns hold
    assert _same(decode_metadata(stored), clean_metadata({"k": value}))
    assert _same(decode_metadata(stored)["k"], value)


@given(st.text(st.characters(exclude_categories=()), max_size=20))  # surrogates too
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_any_text_round_trips_or_is_refused(client: Client, text: str) -> None:
    if not client.list_models().items:
        _model_with_version(client)
    try:
        log_metadata({"text": text, "nested": [text]}, model_name="m")
    except ValidationError:
        assert "\x00" in text or any(0xD800 <= ord(c) <= 0xDFFF for c in text)
        return
    assert _values(client) == {"text": text, "nested": [text]}


# ------------------------------------------------------------------------ the actor


@pytest.mark.parametrize("actor", ["a" * 256, "new\nline", "bell\x07", "\udcff", "del\x7f"])
def test_unrecordable_actor_is_refused(
    client: Client, monkeypatch: pytest.MonkeyPatch, actor: str
) -> None:
    client.create_model("m")
    before = event_count(client)
    monkeypatch.setenv("MODELPLANE_ACTOR", actor)
    with pytest.raises(ConfigError, match="MODELPLANE_ACTOR"):
        client.create_model("other")
    with pytest.raises(ValidationError):
        client.create_model_version("m")
    assert event_count(client) == before


def test_actor_at_the_limit_is_recorded(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MODELPLANE_ACTOR", "a" * 255)
    assert client.create_model("m").user == "a" * 255


# ------------------------------------------------------------------------------ names


def test_names_are_nfc_normalised(client: Client) -> None:
    assert COMPOSED != DECOMPOSED and normalise_name(DECOMPOSED) == COMPOSED
    client.create_model(COMPOSED, tags=[DECOMPOSED])
    with pytest.raises(EntityExistsError):
        client.create_model(DECOMPOSED)
    found = client.get_model(DECOMPOSED)
    assert found.name == COMPOSED and found.tags == [COMPOSED]
    assert client.get_model(COMPOSED).id == found.id
    assert [m.name for m in client.list_models(tag=DECOMPOSED)] == [COMPOSED]

    client.create_model(f"x{DECOMPOSED}")
    assert client.get_model(f"x{COMPOSED}").name == f"x{COMPOSED}"

    version = client.create_model_version(DECOMPOSED, name=DECOMPOSED)
    assert version.name == COMPOSED
    assert client.get_model_version(COMPOSED, DECOMPOSED).id == version.id
    with pytest.raises(EntityExistsError):
        client.create_model_version(COMPOSED, name=COMPOSED)


def test_the_registry_itself_normalises_names(client: Client) -> None:
    """Whatever entry point forgets to normalise, the log never holds two spellings."""
    registry = store_of(client).registry
    registry.register_model(DECOMPOSED, fields={}, tags=[DECOMPOSED], actor="t")
    (registered,) = [e.payload for e in client.list_events() if e.type == "Model.Registered"]
    assert registered["name"] == COMPOSED and registered["tags"] == [COMPOSED]
    with pytest.raises(EntityExistsError):
        registry.register_model(COMPOSED, fields={}, tags=None, actor="t")


INVISIBLE = [
    "a\u200bb",  # Cf zero-width space
    "a\u202eb",  # Cf right-to-left override
    "a\u2028b",  # Zl line separator
    "a\u2029b",  # Zp paragraph separator
    "a\x07b",  # Cc bell
    "a\x85b",  # Cc next line
]


@pytest.mark.parametrize("text", INVISIBLE)
def test_invisible_characters_are_refused_in_names_and_tags(client: Client, text: str) -> None:
    assert unicodedata.category(text[1]) in {"Cf", "Zl", "Zp", "Cc"}
    client.create_model("m")
    before = event_count(client)
    attempts = [
        lambda: client.create_model(text),
        lambda: client.create_model("n", tags=[text]),
        lambda: client.update_model("m", name=text),
        lambda: client.update_model("m", add_tags=[text]),
        lambda: client.create_model_version("m", name=text),
        lambda: client.create_model_version("m", tags=[text]),
        lambda: save_artifact(text, 1),
    ]
    for attempt in attempts:
        with pytest.raises(ValidationError):
            attempt()
    assert event_count(client) == before


def test_lone_surrogates_are_refused(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = "x\udcff"
    client.create_model("m", description="ok")
    client.create_model_version("m")
    before = event_count(client)
    attempts = [
        lambda: client.create_model(bad),
        lambda: client.create_model("n", tags=[bad]),
        lambda: client.create_model("n", description=bad),
        lambda: client.update_model("m", license=bad),
        lambda: client.create_model_version("m", description=bad),
        lambda: client.update_model_version("m", 1, stage="staging", reason=bad),
        lambda: client.update_model_version("m", 1, add_tags=[bad]),
    ]
    for attempt in attempts:
        with pytest.raises(ValidationError):
            attempt()
    monkeypatch.setenv("MODELPLANE_ACTOR", bad)
    with pytest.raises(ValidationError):
        client.create_model("n")
    assert event_count(client) == before


@pytest.mark.parametrize(
    "name",
    [
        str(uuid.UUID(int=1)),
        uuid.UUID(int=2).hex,
        "{" + uuid.UUID(int=3).hex + "}",
        "urn:uuid:" + str(uuid.UUID(int=4)),
    ],
)
def test_uuid_shaped_model_names_are_refused(client: Client, name: str) -> None:
    client.create_model("m")
    before = event_count(client)
    with pytest.raises(ValidationError, match="UUID"):
        client.create_model(name)
    with pytest.raises(ValidationError, match="UUID"):
        client.update_model("m", name=name)
    assert event_count(client) == before


def test_step_and_pipeline_names_are_checked_when_defined(client: Client) -> None:
    with pytest.raises(ValidationError):

        @step(name="s" * 256)
        def long_step() -> None: ...

    with pytest.raises(ValidationError):

        @pipeline(name="p\x00")
        def nul_pipeline() -> None: ...


class _Stored(NamedTuple):
    uri: str = "file:///nowhere"
    content_hash: str = "0" * 64
    materializer: str = "builtins"
    data_type: str = "builtins.int"
    artifact_type: str = "data"
    size_bytes: int = 1
    warnings: list[str] = []


def test_every_length_limited_column_is_checked_before_appending(client: Client) -> None:
    """Values SQLite would store and PostgreSQL refuse (String(255), String(512)), whichever
    command carries them: the last check, on the event itself, refuses them on both."""
    registry = store_of(client).registry
    run = registry.start_run("r", pipeline="p", actor="t")
    _model_with_version(client)
    version_id = client.get_model_version("m").id
    before = event_count(client)
    attempts = [
        lambda: registry.start_run("r2", pipeline="p" * 256, actor="t"),
        lambda: registry.start_run("r2", pipeline="p\x00", actor="t"),
        lambda: registry.record_artifact_version(
            "a", stored=_Stored(data_type="d" * 513), actor="t"
        ),
        lambda: registry.record_artifact_version(
            "a", stored=_Stored(materializer="m" * 256), actor="t"
        ),
        lambda: registry.finish_step(run.id, "s" * 256, inputs={}, outputs={}, duration_ms=1),
        lambda: registry.finish_step(
            run.id, "s", inputs={"i" * 256: uuid.uuid4()}, outputs={}, duration_ms=1
        ),
        lambda: registry.finish_step(
            run.id, "s", inputs={}, outputs={}, duration_ms=1, error="a\x00b"
        ),
        lambda: registry.log_metadata(version_id, {"k": 1}, step="s" * 256, actor="t"),
        lambda: registry.log_run_metadata(run.id, {"k": 1}, actor="a" * 256),
    ]
    for attempt in attempts:
        with pytest.raises(ValidationError):
            attempt()
    assert event_count(client) == before
    registry.record_artifact_version("a", stored=_Stored(data_type="d" * 512), actor="t")
    assert client.get_artifact_version("a").data_type == "d" * 512


def test_step_failure_text_no_store_can_hold_is_escaped(client: Client) -> None:
    @step
    def fails() -> None:
        raise RuntimeError("bad\x00byte \udcff")

    @pipeline
    def flow() -> None:
        fails()

    with pytest.raises(RuntimeError):
        flow()
    run = client.list_pipeline_runs().items[0]
    assert run.status == "failed"
    assert run.error is not None and "bad\\x00byte \\udcff" in run.error
    assert "bad\\x00byte" in (run.steps["fails"].error or "")


# ---------------------------------------------------------------------------- numbers


def test_numbers_beyond_64_bits_are_validation_errors(client: Client, tmp_path: Path) -> None:
    _model_with_version(client)
    save_artifact("data", 1)
    huge = 2**70
    attempts = [
        lambda: client.get_model_version("m", huge),
        lambda: client.get_model_version("m", 10**5000),
        lambda: client.get_model_version("m", str(huge)),
        lambda: client.get_model_version("m", "9" * 5000),  # beyond int()'s digit limit too
        lambda: client.get_model_version("m", 1, at=huge),
        lambda: client.get_model_version("m", huge, at=1),
        lambda: client.get_artifact_version("data", huge),
        lambda: client.list_models(page=huge),
        lambda: client.list_models(size=huge),
        lambda: client.list_models(page=2**32, size=2**32),  # the offset overflows
        lambda: client.list_model_versions("m", page=huge),
        lambda: client.list_artifact_versions(page=huge),
        lambda: client.list_pipeline_runs(page=huge),
        lambda: client.list_events(after=huge),
        lambda: client.rebuild_projections(until=huge, into=tmp_path / "past.db"),
    ]
    for attempt in attempts:
        with pytest.raises(ValidationError):
            attempt()
    with pytest.raises(NotFoundError):  # the largest version number a store holds
        client.get_model_version("m", 2**31 - 1)
    with pytest.raises(ValidationError):  # beyond it (PostgreSQL's INTEGER column)
        client.get_model_version("m", 2**31)


@pytest.mark.parametrize("digits", ["\u00b2", "\u0663", "\uff11", "1\u00b2"])
def test_unicode_digits_are_never_numbers(client: Client, digits: str) -> None:
    client.create_model("m")
    for _ in range(3):
        client.create_model_version("m")
    save_artifact("data", 1)
    for attempt in (
        lambda: client.get_model_version("m", digits),
        lambda: client.get_model_version("m", digits, at=10_000),
        lambda: client.get_artifact_version("data", digits),
    ):
        with pytest.raises(NotFoundError):
            attempt()
    # not a number, so a valid custom version name, found by name
    named = client.create_model_version("m", name=digits)
    assert client.get_model_version("m", digits).id == named.id
    assert as_number(digits) is None


def test_unplaceable_datetimes_are_validation_errors(client: Client) -> None:
    _model_with_version(client)
    east = timezone(timedelta(hours=5))
    west = timezone(timedelta(hours=-5))
    for moment in (datetime(1, 1, 1, tzinfo=east), datetime.max.replace(tzinfo=west)):
        with pytest.raises(ValidationError):
            client.get_model_version("m", 1, at=moment)
    for moment in (datetime(1, 1, 1), datetime.min.replace(tzinfo=UTC)):
        with pytest.raises(NotFoundError):  # a valid moment before anything existed
            client.get_model_version("m", 1, at=moment)
    assert client.get_model_version("m", 1, at=datetime.max).number == 1


# ------------------------------------------------------------------- MODELPLANE_HOME


@pytest.mark.parametrize("where", ["file", "under_file"])
def test_unusable_home_is_a_config_error(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, where: str
) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    home = blocker if where == "file" else blocker / "sub" / "home"
    close_all()
    monkeypatch.setenv("MODELPLANE_HOME", str(home))
    if store == "sqlite":  # the store itself lives in the home
        with pytest.raises(ConfigError, match="MODELPLANE_HOME"):
            Client().list_models()
    else:  # the store is elsewhere; artifacts still live in the home
        client = Client()
        before = event_count(client)
        with pytest.raises(ConfigError, match="MODELPLANE_HOME"):
            save_artifact("data", 1)
        assert event_count(client) == before
    assert isinstance(ConfigError("x"), ValidationError)
    assert issubclass(ConfigError, RegistryError)
