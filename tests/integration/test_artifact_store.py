"""The artifact store and its materializers, on a temp folder (no database).

What matters to the pipelines built on top: every kind of step output comes back with the
exact same type and value; equal content is stored once, also across processes; a value
that cannot be stored, or a write that dies half-way, leaves nothing under a hash path.
"""

from __future__ import annotations

import copy
import math
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pydantic
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from modelplane.artifacts import (
    ArtifactStore,
    ArtifactWarning,
    Materializer,
    MaterializerError,
    StoredArtifact,
    register_materializer,
)
from modelplane.artifacts import materializers as mat
from modelplane.artifacts.content_store import TEMP_FOLDER
from modelplane.domain.errors import NotFoundError, ValidationError

# --- helpers -------------------------------------------------------------------------------


def hash_folders(root: Path) -> set[Path]:
    return {p for p in root.glob("??/*") if p.is_dir()}


def temp_entries(root: Path) -> list[Path]:
    temp = root / TEMP_FOLDER
    return list(temp.iterdir()) if temp.exists() else []


def typed(value: Any) -> Any:
    """A comparable form that also records every type, so 1 != True != 1.0 and () != []."""
    kind = type(value)
    if kind in (list, tuple):
        return (kind.__name__, tuple(typed(item) for item in value))
    if kind in (set, frozenset):
        return (kind.__name__, frozenset(typed(item) for item in value))
    if kind is dict:
        return ("dict", tuple((typed(k), typed(v)) for k, v in value.items()))
    if kind is float and math.isnan(value):
        return ("float", "nan")
    return (kind.__name__, value)


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "artifacts")


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory: pytest.TempPathFactory) -> ArtifactStore:
    return ArtifactStore(tmp_path_factory.mktemp("shared") / "artifacts")


# --- JSON-ish values: a property -----------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=2**64 - 3, max_value=2**70)
    | st.floats(allow_nan=False)
    | st.text(max_size=8)
)
hashables = st.recursive(
    scalars, lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3), max_leaves=6
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(st.text(max_size=6) | st.just("__mp__"), inner, max_size=4)
        | st.dictionaries(hashables, inner, max_size=4)
        | st.sets(hashables, max_size=4)
        | st.frozensets(hashables, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=values)
def test_json_values_round_trip_with_exact_types_and_dedupe(
    shared_store: ArtifactStore, value: Any
) -> None:
    first = shared_store.save(value)
    assert first.materializer == "modelplane.json"
    assert first.artifact_type == "data"
    assert first.warnings == []
    assert typed(shared_store.load(first)) == typed(value)

    again = shared_store.save(copy.deepcopy(value))
    assert again.content_hash == first.content_hash
    assert again.uri == first.uri
    assert again.new is False
    assert temp_entries(shared_store.root) == []


def test_plain_json_stays_readable_on_disk(store: ArtifactStore) -> None:
    value = {"lr": 0.01, "layers": [64, 32], "name": "mlp", "extra": None, "ok": True}
    stored = store.save(value)
    (only,) = Path(stored.uri).iterdir()
    assert only.name == "data.json"
    assert orjson.loads(only.read_bytes()) == value


def test_tagged_values_keep_their_types(store: ArtifactStore) -> None:
    value = {
        1: (1, 2.0, "3"),
        (1, "a"): {frozenset({1, 2})},
        "__mp__": "a user key that looks like the tag",
        "big": -(2**80),
        "inf": float("-inf"),
        "flag": True,
    }
    loaded = store.load(store.save(value))
    assert typed(loaded) == typed(value)
    nan = store.load(store.save(float("nan")))
    assert type(nan) is float and math.isnan(nan)


def test_equal_values_of_different_types_are_different_artifacts(store: ArtifactStore) -> None:
    hashes = {store.save(v).content_hash for v in (1, True, 1.0, "1", [1], (1,), {1}, None)}
    assert len(hashes) == 8


def test_sets_hash_the_same_whatever_their_iteration_order(store: ArtifactStore) -> None:
    forward = set(range(1000, 1100))
    backward = set(reversed(range(1000, 1100)))
    assert store.save(forward).content_hash == store.save(backward).content_hash
    assert len(hash_folders(store.root)) == 1


def test_json_declines_nested_non_json_values_to_pickle(store: ArtifactStore) -> None:
    with pytest.warns(ArtifactWarning, match="pickle"):
        stored = store.save({"when": complex(1, 2)})
    assert stored.materializer == "modelplane.pickle"
    assert store.load(stored) == {"when": complex(1, 2)}


# --- bytes, paths ---------------------------------------------------------------------------


def test_bytes_and_bytearray(store: ArtifactStore) -> None:
    raw = bytes(range(256)) * 10
    stored = store.save(raw)
    assert stored.materializer == "modelplane.bytes"
    assert stored.size_bytes == len(raw)
    assert store.load(stored) == raw and type(store.load(stored)) is bytes
    mutable = store.save(bytearray(raw))
    assert mutable.content_hash == stored.content_hash  # same bytes, stored once
    assert type(store.load(mutable)) is bytearray


def test_path_file_and_folder(
    store: ArtifactStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where loads put their copies
    source = tmp_path / "weights.bin"
    source.write_bytes(b"\x00\x01" * 1000)
    stored = store.save(source)
    assert stored.materializer == "modelplane.path"
    loaded = store.load(stored)
    assert isinstance(loaded, Path) and loaded.is_file()
    assert not loaded.is_relative_to(store.root)  # a private copy, see test_artifact_integrity
    assert loaded.name == "weights.bin" and loaded.read_bytes() == source.read_bytes()

    folder = tmp_path / "model_dir"
    (folder / "sub" / "deeper").mkdir(parents=True)
    (folder / "empty").mkdir()
    (folder / "config.json").write_text('{"a": 1}')
    (folder / "sub" / "deeper" / "w.npy").write_bytes(b"abc")
    stored_dir = store.save(folder)
    copy_of = store.load(stored_dir)
    assert copy_of.is_dir() and copy_of.name == "model_dir"
    assert (copy_of / "empty").is_dir()
    assert (copy_of / "sub" / "deeper" / "w.npy").read_bytes() == b"abc"
    assert stored_dir.size_bytes == len('{"a": 1}') + 3

    twin = tmp_path / "elsewhere" / "model_dir"
    twin.parent.mkdir()
    shutil.copytree(folder, twin)
    assert store.save(twin).content_hash == stored_dir.content_hash
    (twin / "empty").rmdir()
    assert store.save(twin).content_hash != stored_dir.content_hash  # empty folders count


def test_stored_files_are_read_only(store: ArtifactStore) -> None:
    stored = store.save({"a": 1})
    (only,) = Path(stored.uri).iterdir()
    assert not os.access(only, os.W_OK) or os.geteuid() == 0
    assert only.stat().st_mode & 0o222 == 0


def test_missing_path_is_refused(store: ArtifactStore, tmp_path: Path) -> None:
    with pytest.raises(MaterializerError, match="neither a file nor a folder"):
        store.save(tmp_path / "nope")
    assert hash_folders(store.root) == set()
    assert temp_entries(store.root) == []


# --- optional libraries ---------------------------------------------------------------------


def test_numpy_arrays_and_scalars(store: ArtifactStore) -> None:
    arrays: list[np.ndarray[Any, Any]] = [
        np.arange(12, dtype=np.int16).reshape(3, 4),
        np.asfortranarray(np.random.default_rng(0).normal(size=(5, 3))),
        np.array(["a", "bcd"]),
        np.array([1.5, np.nan]),
        np.zeros((0, 3), dtype=np.float32),
        np.array(["2020-01-01"], dtype="datetime64[D]"),
    ]
    for array in arrays:
        stored = store.save(array)
        assert stored.materializer == "modelplane.numpy" and stored.warnings == []
        assert (Path(stored.uri) / "array.npy").exists()
        loaded = store.load(stored)
        assert type(loaded) is np.ndarray and loaded.dtype == array.dtype
        np.testing.assert_array_equal(loaded, array)
    scalar = store.load(store.save(np.float32(2.5)))
    assert type(scalar) is np.float32 and scalar == np.float32(2.5)


def test_numpy_object_arrays_fall_back_to_pickle_with_a_warning(store: ArtifactStore) -> None:
    array = np.array([1, "a", None], dtype=object)
    with pytest.warns(ArtifactWarning, match="pickle"):
        stored = store.save(array)
    assert stored.materializer == "modelplane.numpy" and stored.warnings
    np.testing.assert_array_equal(store.load(stored), array)


def test_pandas_frames_and_series(store: ArtifactStore) -> None:
    frame = pd.DataFrame(
        {
            "x": np.arange(5),
            "y": np.linspace(0, 1, 5),
            "s": list("abcde"),
            "c": pd.Categorical(list("xyxyx")),
            "t": pd.date_range("2026-01-01", periods=5, tz="UTC"),
            "n": pd.array([1, None, 3, None, 5], dtype="Int64"),
        },
        index=pd.Index([10, 20, 30, 40, 50], name="row"),
    )
    stored = store.save(frame)
    assert stored.materializer == "modelplane.pandas" and stored.warnings == []
    assert (Path(stored.uri) / "data.parquet").exists()
    pd.testing.assert_frame_equal(store.load(stored), frame)

    multi = frame.set_index(["s", "x"])
    pd.testing.assert_frame_equal(store.load(store.save(multi)), multi)

    for name in ("price", None, ("a", 1), 7):
        series = pd.Series([1.5, 2.5, 3.5], index=["a", "b", "c"], name=name)
        loaded = store.load(store.save(series))
        assert type(loaded) is pd.Series
        pd.testing.assert_series_equal(loaded, series)


def test_pandas_frames_pyarrow_cannot_convert_are_pickled(store: ArtifactStore) -> None:
    frame = pd.DataFrame({"mixed": [1, "a", 2.5]})
    with pytest.warns(ArtifactWarning):
        stored = store.save(frame)
    pd.testing.assert_frame_equal(store.load(stored), frame)


class Config(pydantic.BaseModel):
    name: str
    layers: list[int]
    dropout: float = 0.1
    tags: dict[str, str] = {}


def test_pydantic_models(store: ArtifactStore) -> None:
    config = Config(name="agent", layers=[64, 32], tags={"team": "ml"})
    stored = store.save(config)
    assert stored.materializer == "modelplane.pydantic"
    assert stored.data_type == "tests.integration.test_artifact_store:Config"
    assert orjson.loads((Path(stored.uri) / "model.json").read_bytes())["name"] == "agent"
    loaded = store.load(stored)
    assert type(loaded) is Config and loaded == config


def test_sklearn_estimators_are_model_artifacts(store: ArtifactStore) -> None:
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(1)
    features = rng.normal(size=(200, 4))
    labels = (features[:, 0] + features[:, 1] > 0).astype(int)
    model = LogisticRegression().fit(features, labels)
    stored = store.save(model)
    assert stored.materializer == "modelplane.sklearn"
    assert stored.artifact_type == "model"
    assert stored.warnings == []
    loaded = store.load(stored)
    np.testing.assert_array_equal(loaded.predict(features), model.predict(features))
    np.testing.assert_allclose(loaded.predict_proba(features), model.predict_proba(features))


# --- pickle fallback and refusal ------------------------------------------------------------


@dataclass
class Point:
    x: int
    y: int


def test_other_picklable_objects_are_pickled_with_a_warning(store: ArtifactStore) -> None:
    with pytest.warns(ArtifactWarning, match="not load under other versions"):
        stored = store.save(Point(1, 2))
    assert stored.materializer == "modelplane.pickle"
    assert stored.data_type == "tests.integration.test_artifact_store:Point"
    assert any("pickle" in message for message in stored.warnings)
    assert store.load(stored) == Point(1, 2)


def _generator() -> Iterator[int]:
    yield 1


@pytest.mark.parametrize("kind", ["lambda", "generator", "socket", "local class"])
def test_unpicklable_values_raise_and_write_nothing(store: ArtifactStore, kind: str) -> None:
    store.save("something already stored")
    before = hash_folders(store.root)

    class Local:
        pass

    sock = socket.socket()
    value = {
        "lambda": lambda: 1,
        "generator": _generator(),
        "socket": sock,
        "local class": Local(),
    }[kind]
    try:
        with pytest.raises(MaterializerError) as raised:
            store.save(value)
    finally:
        sock.close()
    assert type(value).__qualname__ in str(raised.value)
    assert isinstance(raised.value, ValidationError) and isinstance(raised.value, ValueError)
    assert hash_folders(store.root) == before
    assert temp_entries(store.root) == []


# --- user materializers ---------------------------------------------------------------------


class Celsius:
    def __init__(self, degrees: float) -> None:
        self.degrees = degrees

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Celsius) and other.degrees == self.degrees

    __hash__ = None  # type: ignore[assignment]


class CelsiusMaterializer(Materializer):
    types = (Celsius,)

    def to_file(self, value: Any) -> tuple[str, bytes] | None:
        return ("celsius.txt", repr(value.degrees).encode())

    def load(self, folder: Path, data_type: str) -> Any:
        return Celsius(float((folder / "celsius.txt").read_text()))


class HotCelsius(Celsius):
    pass


@pytest.fixture
def isolated_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """User registrations made in a test are undone after it."""
    monkeypatch.setattr(mat.REGISTRY, "_user", dict(mat.REGISTRY._user))
    monkeypatch.setattr(mat.REGISTRY, "_by_name", dict(mat.REGISTRY._by_name))


@pytest.mark.usefixtures("isolated_registry")
def test_user_materializer_is_used_for_its_type_and_subclasses(store: ArtifactStore) -> None:
    assert register_materializer(CelsiusMaterializer) is CelsiusMaterializer
    stored = store.save(Celsius(21.5))
    assert stored.materializer == "tests.integration.test_artifact_store:CelsiusMaterializer"
    assert stored.warnings == []
    assert (Path(stored.uri) / "celsius.txt").read_text() == "21.5"
    assert store.load(stored) == Celsius(21.5)
    assert store.save(HotCelsius(90.0)).materializer == stored.materializer
    # Loading by the recorded name works without the registration (it is importable).
    mat.REGISTRY._by_name.pop(stored.materializer)
    assert store.load(stored.uri, materializer=stored.materializer, data_type=stored.data_type) == (
        Celsius(21.5)
    )


class UpperStr(Materializer):
    name = "test.upper"
    types = (str,)

    def to_file(self, value: Any) -> tuple[str, bytes] | None:
        return ("upper.txt", value.upper().encode())

    def load(self, folder: Path, data_type: str) -> Any:
        return (folder / "upper.txt").read_text()


@pytest.mark.usefixtures("isolated_registry")
def test_user_materializer_wins_over_a_builtin(store: ArtifactStore) -> None:
    register_materializer(UpperStr)
    stored = store.save("shout")
    assert stored.materializer == "test.upper"
    assert store.load(stored) == "SHOUT"
    assert store.save(["a list still goes to JSON"]).materializer == "modelplane.json"


def test_registering_a_non_materializer_is_refused() -> None:
    with pytest.raises(ValidationError):
        register_materializer(dict)  # type: ignore[type-var]


def test_a_forced_materializer_is_used(store: ArtifactStore) -> None:
    with pytest.warns(ArtifactWarning):
        stored = store.save({"a": 1}, materializer="modelplane.pickle")
    assert stored.materializer == "modelplane.pickle"
    assert store.load(stored) == {"a": 1}


# --- atomicity and concurrency --------------------------------------------------------------


class CrashingMaterializer(Materializer):
    """Writes part of an artifact, then fails: a disk full or a bug half-way through."""

    name = "test.crashing"
    types = ()

    def save(self, value: Any, folder: Path) -> None:
        (folder / "part-1").write_bytes(b"x" * 10_000)
        (folder / "sub").mkdir()
        (folder / "sub" / "part-2").write_bytes(b"y")
        raise RuntimeError("disk on fire")


def test_a_failing_write_leaves_nothing(store: ArtifactStore) -> None:
    with pytest.raises(RuntimeError, match="disk on fire"):
        store.save(b"payload", materializer=CrashingMaterializer)
    assert hash_folders(store.root) == set()
    assert temp_entries(store.root) == []


def _crash_mid_write(root: str) -> None:
    """Child process: dies (no cleanup, no exceptions) while its artifact is half-written."""

    class DyingMaterializer(Materializer):
        def save(self, value: Any, folder: Path) -> None:
            (folder / "half").write_bytes(b"z" * 1000)
            os._exit(3)

    ArtifactStore(root).save(b"never published", materializer=DyingMaterializer)


def _spawn() -> Any:
    return multiprocessing.get_context("spawn")


def test_a_killed_writer_leaves_only_a_temp_folder(store: ArtifactStore) -> None:
    process = _spawn().Process(target=_crash_mid_write, args=(str(store.root),))
    process.start()
    process.join(60)
    assert process.exitcode == 3
    assert hash_folders(store.root) == set()
    assert len(temp_entries(store.root)) == 1
    assert store.cleanup_temp(older_than=3600) == 0  # a fresh one may be a live writer
    assert store.cleanup_temp(older_than=-1) == 1
    assert temp_entries(store.root) == []


def test_losing_the_publish_race_is_not_an_error(
    store: ArtifactStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    value = np.arange(1000)  # the folder path: materialize, hash, then publish
    first = store.save(value)
    monkeypatch.setattr(ArtifactStore, "exists", lambda self, content_hash: False)
    second = store.save(value)
    small = store.save("small")
    third = store.save("small")  # the in-memory fast path loses the race too
    assert (first.new, second.new, small.new, third.new) == (True, False, True, False)
    assert second.content_hash == first.content_hash
    assert len(hash_folders(store.root)) == 2
    assert temp_entries(store.root) == []


CONCURRENT_VALUE = {
    "tags": {f"tag-{i}" for i in range(50)},  # set order differs between processes
    "weights": list(range(5000)),
}


def _save_at(root: str, start: float) -> tuple[str, bool]:
    while time.time() < start:
        pass
    frame = pd.DataFrame({"a": np.arange(100_000)})
    ArtifactStore(root).save(frame)
    stored = ArtifactStore(root).save(CONCURRENT_VALUE)
    return stored.content_hash, stored.new


@pytest.mark.slow
def test_concurrent_saves_from_two_processes(store: ArtifactStore) -> None:
    with _spawn().Pool(2) as pool:
        start = time.time() + 3.0  # both workers are up by then
        results = pool.starmap(_save_at, [(str(store.root), start)] * 2)
    (hash_a, new_a), (hash_b, new_b) = results
    assert hash_a == hash_b
    assert sorted([new_a, new_b]) == [False, True]
    assert len(hash_folders(store.root)) == 2  # the frame and the dict, once each
    assert temp_entries(store.root) == []
    loaded = store.load(
        StoredArtifact(
            uri=str(store.path_for(hash_a)),
            content_hash=hash_a,
            materializer="modelplane.json",
            data_type="builtins:dict",
            artifact_type="data",
            size_bytes=0,
        )
    )
    assert loaded == CONCURRENT_VALUE


# --- store API ------------------------------------------------------------------------------


def test_default_root_is_under_modelplane_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MODELPLANE_HOME", str(tmp_path / "home"))
    store = ArtifactStore()
    assert store.root == tmp_path / "home" / "artifacts"
    stored = store.save([1, 2, 3])
    assert Path(stored.uri).parent.parent == tmp_path / "home" / "artifacts"
    assert store.exists(stored.content_hash)


def test_load_by_uri_and_names(store: ArtifactStore) -> None:
    stored = store.save((1, "a"))
    assert Path(stored.uri) == store.path_for(stored.content_hash)
    for uri in (stored.uri, Path(stored.uri).as_uri()):
        loaded = store.load(uri, materializer=stored.materializer, data_type=stored.data_type)
        assert loaded == (1, "a")
    with pytest.raises(ValidationError):
        store.load(stored.uri)
    with pytest.raises(NotFoundError):
        store.load(str(store.root / "ab" / ("ab" * 32)), materializer="x", data_type="y")
    with pytest.raises(MaterializerError, match="unknown materializer"):
        store.load(stored.uri, materializer="no.such", data_type="builtins:tuple")


def test_verify_recomputes_the_content_hash(store: ArtifactStore, tmp_path: Path) -> None:
    folder = tmp_path / "data"
    (folder / "locked").mkdir(parents=True)
    (folder / "locked" / "a.txt").write_text("a")
    (folder / "locked").chmod(0o555)  # copied read-only: a lost race must still clean up
    try:
        stored = store.save(folder)
        assert store.verify(stored.content_hash)
        assert store.verify(store.save({"b": 2}).content_hash)
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(ArtifactStore, "exists", lambda self, content_hash: False)
            assert store.save(folder).new is False
        assert temp_entries(store.root) == []
        tampered = Path(stored.uri) / "data" / "locked" / "a.txt"
        tampered.chmod(0o644)
        tampered.write_text("b")
        assert not store.verify(stored.content_hash)
        assert not store.verify("0" * 64)
    finally:
        (folder / "locked").chmod(0o755)
        (Path(stored.uri) / "data" / "locked").chmod(0o755)


def test_hashes_are_validated(store: ArtifactStore) -> None:
    with pytest.raises(ValidationError):
        store.path_for("../../etc")
    assert store.exists("0" * 64) is False


def test_importing_artifacts_loads_no_optional_library() -> None:
    code = (
        "import sys, modelplane.artifacts as a\n"
        "heavy = [m for m in ('numpy', 'pandas', 'pyarrow', 'sklearn', 'pydantic')"
        " if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "import tempfile\n"
        "s = a.ArtifactStore(tempfile.mkdtemp())\n"
        "s.load(s.save({'a': (1, 2)}))\n"
        "heavy = [m for m in ('numpy', 'pandas', 'pyarrow', 'sklearn', 'pydantic')"
        " if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[2])
