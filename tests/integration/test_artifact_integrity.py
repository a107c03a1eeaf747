"""Artifact integrity: what is handed out cannot alter the store, what is stored is checked.

A loaded file or folder artifact is a private copy; every load hashes the stored bytes, so a
changed, truncated or missing stored file is an ``ArtifactCorruptedError`` naming the artifact
and version (never a raw pyarrow, numpy, pickle or OS error); a save never deduplicates onto a
damaged copy, it replaces it with the good new bytes. Registry-backed tests run on SQLite and
PostgreSQL (``client``); the rest use a bare artifact store.
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import pytest

from modelplane import Model, pipeline, step
from modelplane.artifacts import ArtifactStore, Materializer
from modelplane.artifacts.utils import load_artifact, save_artifact
from modelplane.client import Client
from modelplane.exceptions import ArtifactCorruptedError, RegistryError, ValidationError

pytestmark = pytest.mark.filterwarnings("ignore:.*stored with pickle:UserWarning")


@pytest.fixture(autouse=True)
def loaded_copies_under_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Private copies made by loads go under the test's tmp_path, not the shared /tmp."""
    folder = tmp_path / "loaded"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


@pytest.fixture
def artifacts(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "bare-store")


@dataclass
class Point:
    x: int
    y: int


def _frame() -> pd.DataFrame:
    return pd.DataFrame({"id": np.arange(2000), "x": np.linspace(0, 1, 2000)})


def _model_folder(root: Path) -> Path:
    folder = root / "model_dir"
    (folder / "sub").mkdir(parents=True)
    (folder / "config.json").write_text('{"layers": 3}')
    (folder / "sub" / "weights.bin").write_bytes(bytes(range(256)) * 40)
    return folder


def _values(root: Path) -> dict[str, Any]:
    """One value per kind of materializer, the file or folder ones made under ``root``."""
    single = root / "weights.bin"
    single.write_bytes(b"\x00\x01\x02" * 500)
    return {
        "json": {"lr": 0.01, "layers": [64, 32]},
        "bytes": bytes(range(256)) * 8,
        "numpy": np.arange(3000, dtype=np.int64),
        "pandas": _frame(),
        "pickle": Point(1, 2),
        "file": single,
        "folder": _model_folder(root),
    }


def _assert_same(kind: str, loaded: Any, expected: Any) -> None:
    if kind == "numpy":
        np.testing.assert_array_equal(loaded, expected)
    elif kind == "pandas":
        pd.testing.assert_frame_equal(loaded, expected)
    elif kind in ("file", "folder"):
        assert _tree(loaded) == _tree(expected)
    else:
        assert loaded == expected


def _tree(path: Path) -> dict[str, bytes | None]:
    """A file or folder as {relative path: bytes (None for a folder)}."""
    if path.is_file():
        return {path.name: path.read_bytes()}
    return {
        p.relative_to(path).as_posix(): None if p.is_dir() else p.read_bytes()
        for p in sorted(path.rglob("*"))
    }


def _stored_files(uri: str) -> list[Path]:
    return sorted(p for p in Path(uri).rglob("*") if p.is_file())


def _writable(path: Path) -> Path:
    """What a user does to a read-only file before writing it (root needs no chmod)."""
    path.chmod(path.stat().st_mode | stat.S_IWUSR)
    path.parent.chmod(path.parent.stat().st_mode | stat.S_IWUSR)
    return path


def _flip_a_byte(path: Path) -> None:
    """Change one byte in the middle, keeping the size (what a size check would miss)."""
    data = bytearray(_writable(path).read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _truncate(path: Path) -> None:
    data = _writable(path).read_bytes()
    path.write_bytes(data[: len(data) // 2])


KINDS = ["json", "bytes", "numpy", "pandas", "pickle", "file", "folder"]


# --- a loaded file or folder is a private copy ---------------------------------------------


def test_writing_into_a_loaded_folder_leaves_the_stored_version_unchanged(
    client: Client, tmp_path: Path
) -> None:
    source = _model_folder(tmp_path / "src")
    original = _tree(source)
    saved = save_artifact("model_dir", source)
    loaded = load_artifact("model_dir")
    assert isinstance(loaded, Path) and _tree(loaded) == original
    assert not loaded.resolve().is_relative_to(client.artifact_store.root.resolve())

    # The user treats the loaded folder as theirs: edits, adds and removes files.
    _writable(loaded / "config.json").write_text('{"layers": 99}')
    (loaded / "notes.txt").write_text("fine-tuned")
    os.remove(_writable(loaded / "sub" / "weights.bin"))

    again = load_artifact("model_dir", 1)
    assert _tree(again) == original
    assert again != loaded
    assert client.artifact_store.verify(saved.content_hash)
    # Saving the original again is deduplicated onto an intact copy.
    assert save_artifact("model_dir", source).content_hash == saved.content_hash
    assert _tree(load_artifact("model_dir", 2)) == original


def test_writing_into_a_loaded_file_leaves_the_stored_version_unchanged(
    client: Client, tmp_path: Path
) -> None:
    source = tmp_path / "weights.bin"
    source.write_bytes(b"\x07" * 4096)
    save_artifact("weights", source)
    loaded = load_artifact("weights")
    assert loaded.name == "weights.bin" and loaded.read_bytes() == b"\x07" * 4096
    with open(_writable(loaded), "r+b") as file:  # written in place, same size
        file.write(b"\x00" * 16)
    assert load_artifact("weights").read_bytes() == b"\x07" * 4096


# --- tampering with the stored bytes --------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_tampered_stored_bytes_make_load_raise_a_typed_error(
    client: Client, tmp_path: Path, kind: str
) -> None:
    value = _values(tmp_path)[kind]
    save_artifact(f"{kind}_data", {"first": "version"})
    saved = save_artifact(f"{kind}_data", value)
    assert saved.number == 2
    _assert_same(kind, saved.load(), value)
    _flip_a_byte(_stored_files(saved.uri)[-1])
    copies_before = set((tmp_path / "loaded").iterdir())

    pattern = f"^artifact {kind}_data version 2 is corrupted: .*no longer match"
    with pytest.raises(ArtifactCorruptedError, match=pattern) as raised:
        load_artifact(f"{kind}_data", 2)
    assert isinstance(raised.value, RegistryError)
    with pytest.raises(ArtifactCorruptedError, match=pattern):
        client.get_artifact_version(f"{kind}_data").load()
    assert load_artifact(f"{kind}_data", 1) == {"first": "version"}
    assert set((tmp_path / "loaded").iterdir()) == copies_before  # no half copy left behind


@pytest.mark.parametrize("kind", KINDS)
def test_saving_the_original_again_after_tampering_repairs_the_store(
    client: Client, tmp_path: Path, kind: str
) -> None:
    value = _values(tmp_path)[kind]
    first = save_artifact(f"{kind}_data", value)
    _flip_a_byte(_stored_files(first.uri)[0])
    assert not client.artifact_store.verify(first.content_hash)

    second = save_artifact(f"{kind}_data", value)
    assert second.content_hash == first.content_hash  # same content, same name in the store
    _assert_same(kind, load_artifact(f"{kind}_data", 2), value)
    _assert_same(kind, load_artifact(f"{kind}_data", 1), value)  # one copy: repaired for both
    assert client.artifact_store.verify(first.content_hash)
    leftovers = list((client.artifact_store.root / ".tmp").iterdir())
    assert leftovers == []  # the damaged copy was removed, not left beside the good one


def test_extra_or_linked_files_in_a_stored_folder_are_corruption(
    client: Client, tmp_path: Path
) -> None:
    saved = save_artifact("config", {"a": 1})
    (Path(saved.uri) / "extra.txt").write_text("dropped in")
    with pytest.raises(ArtifactCorruptedError, match="artifact config version 1 is corrupted"):
        load_artifact("config")
    os.remove(Path(saved.uri) / "extra.txt")
    assert load_artifact("config") == {"a": 1}

    (Path(saved.uri) / "link").symlink_to(tmp_path)
    with pytest.raises(ArtifactCorruptedError, match="'link' in its stored folder is a symlink"):
        load_artifact("config")


# --- truncated and missing files ------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "file_name"),
    [("pandas", "data.parquet"), ("numpy", "array.npy"), ("pickle", "data.pkl")],
)
def test_a_truncated_stored_file_is_a_typed_error(
    client: Client, tmp_path: Path, kind: str, file_name: str
) -> None:
    saved = save_artifact("table", _values(tmp_path)[kind])
    _truncate(Path(saved.uri) / file_name)
    with pytest.raises(ArtifactCorruptedError, match=r"^artifact table version 1 is corrupted: "):
        load_artifact("table")


@pytest.mark.parametrize("kind", KINDS)
def test_a_missing_stored_file_or_folder_is_a_typed_error(
    client: Client, tmp_path: Path, kind: str
) -> None:
    value = _values(tmp_path)[kind]
    saved = save_artifact("gone", value)
    os.remove(_writable(_stored_files(saved.uri)[0]))
    with pytest.raises(ArtifactCorruptedError, match=r"^artifact gone version 1 is corrupted: "):
        load_artifact("gone")

    shutil.rmtree(saved.uri)
    with pytest.raises(ArtifactCorruptedError, match=r"version 1 is corrupted: .* is missing"):
        load_artifact("gone")
    # Saving the content again puts it back for the recorded version too.
    save_artifact("gone", value)
    _assert_same(kind, load_artifact("gone", 1), value)


def test_a_corrupted_artifact_passed_to_a_step_names_it(client: Client) -> None:
    """Step inputs are loaded through the same check, from a handle or a looked-up version."""

    @step
    def produce() -> Annotated[pd.DataFrame, "features"]:
        return _frame()

    @step
    def tamper() -> None:
        stored = Client().get_artifact_version("features")
        _truncate(Path(stored.uri) / "data.parquet")

    @step
    def consume(features: pd.DataFrame) -> None:
        raise AssertionError("a corrupted input must not be handed to a step")

    @pipeline(model=Model(name="integrity"))
    def flow() -> None:
        features = produce()
        tamper()
        consume(features)

    with pytest.raises(ArtifactCorruptedError, match=r"^artifact features version 1 is corrupted"):
        flow()


# --- the bare store -------------------------------------------------------------------------


class RacingMaterializer(Materializer):
    """Reads its file after another process changed it: the check passed a moment before."""

    types = ()

    def to_file(self, value: Any) -> tuple[str, bytes] | None:
        return ("value.txt", str(value).encode())

    def load(self, folder: Path, data_type: str) -> Any:
        _flip_a_byte(folder / "value.txt")  # the concurrent writer, between check and read
        return int((folder / "value.txt").read_text())


def test_damage_between_the_check_and_the_read_is_still_typed(artifacts: ArtifactStore) -> None:
    stored = artifacts.save(1234567, materializer=RacingMaterializer)
    with pytest.raises(ArtifactCorruptedError, match="corrupted") as raised:
        artifacts.load(stored, label="artifact n version 3")
    assert str(raised.value).startswith("artifact n version 3 is corrupted: ")
    assert isinstance(raised.value.__cause__, ValueError)


def test_a_load_by_uri_is_checked_too(artifacts: ArtifactStore, tmp_path: Path) -> None:
    stored = artifacts.save([1, 2, 3])
    _flip_a_byte(_stored_files(stored.uri)[0])
    with pytest.raises(ArtifactCorruptedError, match=f"^artifact {stored.content_hash} is"):
        artifacts.load(stored.uri, materializer=stored.materializer, data_type=stored.data_type)
    elsewhere = tmp_path / "not-a-hash"
    shutil.copytree(stored.uri, elsewhere)
    with pytest.raises(ValidationError, match="not an artifact folder"):
        artifacts.load(str(elsewhere), materializer=stored.materializer, data_type="x:y")


def test_a_damaged_read_only_folder_is_replaced(artifacts: ArtifactStore, tmp_path: Path) -> None:
    """A stored folder made read-only (by a tamperer or a copied tree) is still moved aside."""
    folder = _model_folder(tmp_path / "src")
    stored = artifacts.save(folder)
    _flip_a_byte(Path(stored.uri) / "model_dir" / "config.json")
    for path in (Path(stored.uri) / "model_dir" / "sub", Path(stored.uri)):
        path.chmod(0o555)
    again = artifacts.save(folder)
    assert again.new is True and artifacts.verify(stored.content_hash)
    assert _tree(artifacts.load(again)) == _tree(folder)


def _repair(root: str, start: float, value: dict[str, list[int]]) -> bool:
    import time

    while time.time() < start:
        pass
    return ArtifactStore(root).save(value).new


@pytest.mark.slow
def test_two_processes_repairing_the_same_content_end_with_one_good_copy(
    artifacts: ArtifactStore,
) -> None:
    import time

    value = {"weights": list(range(50_000))}
    stored = artifacts.save(value)
    _flip_a_byte(_stored_files(stored.uri)[0])
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        start = time.time() + 3.0
        results = pool.starmap(_repair, [(str(artifacts.root), start, value)] * 2)
    assert True in results
    assert artifacts.verify(stored.content_hash)
    assert artifacts.load(stored) == value
    assert list((artifacts.root / ".tmp").iterdir()) == []


COPY_FAILS = """
import errno, resource, signal, sys, tempfile
from pathlib import Path
from modelplane.artifacts import ArtifactStore
from modelplane.exceptions import ArtifactCorruptedError

root = Path(sys.argv[1])
source = root / "big.bin"
source.write_bytes(b"x" * 100_000)
store = ArtifactStore(root / "store")
stored = store.save(source)
tempfile.tempdir = str(root)
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (10_000, 10_000))  # the temp disk is "full"
try:
    store.load(stored)
except ArtifactCorruptedError as error:
    sys.exit(f"reported as corruption: {error}")
except OSError as error:
    assert error.errno == errno.EFBIG, error
    assert store.verify(stored.content_hash)
    assert not list(root.glob("modelplane-artifact-*")), "the half copy was left behind"
    print("ok")
"""


def test_a_failure_to_write_the_private_copy_is_not_called_corruption(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", COPY_FAILS, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=Path(__file__).parents[2],
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
