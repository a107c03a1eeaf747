"""The artifact store: content-addressed folders, published atomically.

Layout: ``<root>/<hash[:2]>/<hash>/`` holds the files a materializer wrote for one value, and
``<root>/.tmp/`` the folders being written. ``hash`` is a sha256 over a canonical walk of the
folder (sorted relative paths, each file's size and sha256), so equal content is stored once
whichever step or process produced it, and an artifact's hash can be checked from its files.

Why a folder is published the way it is:

- the materializer writes into a fresh temp folder under the root (same filesystem), so the
  final path only ever appears through one ``rename``: nobody sees a half-written artifact;
- every file and folder is fsync'd before the rename and the parent after it, so an artifact
  the store returned survives a power cut (the log will record its hash next);
- if the hash is already stored the temp folder is dropped unpublished (and small values, whose
  bytes are known up front, skip the disk entirely), also when another process wins the race
  to publish the same content: a directory rename onto a non-empty one fails, and both end up
  pointing at the same folder.

Stored files are made read-only: the content must keep matching its name. A crash leaves at
most a folder under ``.tmp``, never visible under a hash; ``cleanup_temp`` removes old ones.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from domain.errors import NotFoundError, ValidationError
from modelplane import config
from modelplane.artifacts.materializers import (
    REGISTRY,
    ArtifactWarning,
    Materializer,
    MaterializerError,
    qualified_name,
)

TEMP_FOLDER = ".tmp"
_HASH_PREFIX = b"modelplane-artifact-v1\0"
_CHUNK = 1 << 20
_HEX = frozenset("0123456789abcdef")


@dataclass(frozen=True, slots=True)
class StoredArtifact:
    """What the store returns for a saved value: enough to record it and to load it again.

    ``new`` is False when the content was already stored (nothing was written).
    """

    uri: str
    content_hash: str
    materializer: str
    data_type: str
    artifact_type: str
    size_bytes: int
    warnings: list[str] = field(default_factory=list)
    new: bool = True


def _fsync_fd_of(path: Path, flags: int = os.O_RDONLY) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _file_entry(rel: bytes, size: int, digest: bytes) -> bytes:
    return b"f" + len(rel).to_bytes(8, "big") + rel + size.to_bytes(8, "big") + digest


def _dir_entry(rel: bytes) -> bytes:
    return b"d" + len(rel).to_bytes(8, "big") + rel


def _hash_one(name: str, payload: bytes) -> str:
    """The tree hash of a folder holding one file ``name`` with ``payload``."""
    tree = hashlib.sha256(_HASH_PREFIX)
    tree.update(_file_entry(name.encode(), len(payload), hashlib.sha256(payload).digest()))
    return tree.hexdigest()


def _digest_file(path: Path, buffer: bytearray) -> tuple[int, bytes]:
    """Size and sha256 of a file, read in 1 MiB chunks into one reused buffer."""
    digest = hashlib.sha256()
    view = memoryview(buffer)
    size = 0
    with open(path, "rb", buffering=0) as file:
        while count := file.readinto(buffer):
            digest.update(view[:count])
            size += count
    return size, digest.digest()


def _hash_tree(folder: Path) -> tuple[str, int, list[Path], list[Path]]:
    """Tree hash, total size, files and sub-folders (deepest first) of a written folder."""
    entries: list[tuple[bytes, Path, bool]] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        base = Path(dirpath)
        for name in dirnames:
            path = base / name
            if path.is_symlink():
                msg = f"materializer wrote {name!r}, a symlink: artifacts hold regular files"
                raise MaterializerError(msg)
            entries.append((os.fsencode(path.relative_to(folder).as_posix()), path, True))
        for name in filenames:
            path = base / name
            if not path.is_file() or path.is_symlink():
                msg = f"materializer wrote {path.name!r}, which is not a regular file"
                raise MaterializerError(msg)
            entries.append((os.fsencode(path.relative_to(folder).as_posix()), path, False))
    entries.sort(key=lambda entry: entry[0])
    tree = hashlib.sha256(_HASH_PREFIX)
    buffer = bytearray(_CHUNK)
    total = 0
    files: list[Path] = []
    dirs: list[Path] = []
    for rel, path, is_dir in entries:
        if is_dir:
            tree.update(_dir_entry(rel))
            dirs.append(path)
        else:
            size, digest = _digest_file(path, buffer)
            tree.update(_file_entry(rel, size, digest))
            total += size
            files.append(path)
    dirs.sort(key=lambda path: len(path.parts), reverse=True)
    return tree.hexdigest(), total, files, dirs


def _seal_file(path: Path) -> None:
    """fsync a written file and make it read-only (one open, two syscalls)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        mode = os.fstat(fd).st_mode
        os.fchmod(fd, stat.S_IMODE(mode) & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_sealed(path: Path, payload: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    try:
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _discard(folder: Path) -> None:
    """Remove a temp folder, also when it holds copied read-only sub-folders."""

    def retry(function: Any, path: str, _exc_info: Any) -> None:
        try:
            os.chmod(os.path.dirname(path), stat.S_IRWXU)
            function(path)
        except OSError:
            pass

    shutil.rmtree(folder, onerror=retry)


class ArtifactStore:
    """A content-addressed folder of artifacts; safe to share between processes.

    ``root`` defaults to ``$MODELPLANE_HOME/artifacts``, read when the store is created.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        path = Path(root) if root is not None else config.home() / "artifacts"
        self._root = path.expanduser().absolute()
        self._ready = False

    @property
    def root(self) -> Path:
        return self._root

    def path_for(self, content_hash: str) -> Path:
        """Where the content with this hash lives (whether or not it is stored)."""
        if len(content_hash) != 64 or not _HEX.issuperset(content_hash):
            msg = f"not a sha256 content hash: {content_hash!r}"
            raise ValidationError(msg)
        return self._root / content_hash[:2] / content_hash

    def exists(self, content_hash: str) -> bool:
        return self.path_for(content_hash).is_dir()

    # -- save ------------------------------------------------------------------------------

    def save(
        self,
        value: Any,
        *,
        materializer: Materializer | type[Materializer] | str | None = None,
    ) -> StoredArtifact:
        """Store ``value`` and return where and how; equal content is stored once.

        ``materializer`` forces one (an instance, a class, or a registered name); otherwise
        the registry picks by type. A value nothing can store raises ``MaterializerError``
        and leaves nothing behind; so does any error the materializer raises.
        """
        chosen = self._choose(value, materializer)
        self._ensure_root()
        encoded = chosen.to_file(value)
        if encoded is not None:
            name, payload = encoded
            content_hash = _hash_one(name, payload)
            size = len(payload)
            new = False
            if not self.exists(content_hash):
                temp = self._new_temp()
                try:
                    _write_sealed(temp / name, payload)
                    _fsync_fd_of(temp)
                    new = self._publish(temp, content_hash)
                except BaseException:
                    _discard(temp)
                    raise
        else:
            temp = self._new_temp()
            try:
                chosen.save(value, temp)
                content_hash, size, files, dirs = _hash_tree(temp)
                if self.exists(content_hash):
                    _discard(temp)
                    new = False
                else:
                    for path in files:
                        _seal_file(path)
                    for path in dirs:
                        _fsync_fd_of(path)
                    _fsync_fd_of(temp)
                    new = self._publish(temp, content_hash)
            except BaseException:
                _discard(temp)
                raise
        for message in chosen.warnings:
            warnings.warn(message, ArtifactWarning, stacklevel=2)
        return StoredArtifact(
            uri=str(self.path_for(content_hash)),
            content_hash=content_hash,
            materializer=chosen.stable_name(),
            data_type=qualified_name(type(value)),
            artifact_type=chosen.artifact_type,
            size_bytes=size,
            warnings=list(chosen.warnings),
            new=new,
        )

    def _choose(
        self, value: Any, materializer: Materializer | type[Materializer] | str | None
    ) -> Materializer:
        if materializer is None:
            return REGISTRY.for_value(value)
        if isinstance(materializer, Materializer):
            materializer.warnings = []
            return materializer
        if isinstance(materializer, str):
            return REGISTRY.by_name(materializer)()
        if isinstance(materializer, type) and issubclass(materializer, Materializer):
            return materializer()
        msg = f"not a materializer: {materializer!r}"
        raise ValidationError(msg)

    def _ensure_root(self) -> None:
        if self._ready:
            return
        created = not self._root.exists()
        (self._root / TEMP_FOLDER).mkdir(parents=True, exist_ok=True)
        if created:
            _fsync_fd_of(self._root.parent)
        self._ready = True

    def _new_temp(self) -> Path:
        try:
            return Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=self._root / TEMP_FOLDER))
        except FileNotFoundError:  # the root was removed under us: make it again
            self._ready = False
            self._ensure_root()
            return Path(tempfile.mkdtemp(prefix=f"{os.getpid()}-", dir=self._root / TEMP_FOLDER))

    def _publish(self, temp: Path, content_hash: str) -> bool:
        """Rename the sealed temp folder to its hash path; False if someone else did first."""
        final = self.path_for(content_hash)
        prefix = final.parent
        try:
            prefix.mkdir()
            _fsync_fd_of(self._root)
        except FileExistsError:
            pass
        try:
            os.rename(temp, final)
        except OSError as error:
            if error.errno not in (errno.ENOTEMPTY, errno.EEXIST) or not final.is_dir():
                raise
            # Lost the race: the winner published the same bytes. Make sure they are durable
            # before acknowledging them too (the winner may not have fsync'd the parent yet).
            _discard(temp)
            _fsync_fd_of(prefix)
            return False
        _fsync_fd_of(prefix)
        return True

    def verify(self, content_hash: str) -> bool:
        """Whether the stored files still hash to their name (False if missing or altered)."""
        folder = self.path_for(content_hash)
        if not folder.is_dir():
            return False
        try:
            return _hash_tree(folder)[0] == content_hash
        except (OSError, MaterializerError):
            return False

    # -- load ------------------------------------------------------------------------------

    def load(
        self,
        artifact: StoredArtifact | str,
        *,
        materializer: str | None = None,
        data_type: str | None = None,
    ) -> Any:
        """The value back, from a ``StoredArtifact`` or from a URI plus the recorded names.

        A ``StoredArtifact`` is looked up by its hash in this store first, so records keep
        working when ``MODELPLANE_HOME`` moves; its URI is the fallback.
        """
        if isinstance(artifact, StoredArtifact):
            folder = self.path_for(artifact.content_hash)
            if not folder.is_dir():
                folder = _path_of(artifact.uri)
            materializer = materializer or artifact.materializer
            data_type = data_type or artifact.data_type
        else:
            folder = _path_of(artifact)
            if materializer is None or data_type is None:
                msg = "loading from a URI needs the recorded materializer and data_type"
                raise ValidationError(msg)
        if not folder.is_dir():
            msg = f"artifact {folder} is not in the store"
            raise NotFoundError(msg)
        return REGISTRY.by_name(materializer)().load(folder, data_type)

    # -- housekeeping ----------------------------------------------------------------------

    def cleanup_temp(self, older_than: float = 3600.0) -> int:
        """Remove temp folders older than ``older_than`` seconds (left by killed processes)."""
        temp_root = self._root / TEMP_FOLDER
        if not temp_root.is_dir():
            return 0
        removed = 0
        cutoff = time.time() - older_than
        for entry in temp_root.iterdir():
            try:
                if entry.stat().st_mtime < cutoff:
                    shutil.rmtree(entry)
                    removed += 1
            except FileNotFoundError:
                continue
        return removed


def _path_of(uri: str) -> Path:
    if uri.startswith("file://"):
        return Path(unquote(urlparse(uri).path))
    return Path(uri)
