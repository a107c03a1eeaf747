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

Read-only bits do not stop the owner (or root), so the store never trusts a stored folder:

- every ``load`` recomputes the hash of what it reads and refuses a folder that is missing,
  altered or unreadable with ``ArtifactCorruptedError`` ("artifact NAME version N is
  corrupted: why"), whatever the materializer; a materializer whose value is a path
  (``private_copy``) gets a private copy, made in the same pass as the hash, so the caller
  can write into what it gets without touching the store;
- a ``save`` deduplicates onto a stored folder only after checking its hash; a damaged one is
  replaced by the new bytes (see ``_replace_damaged``), so saving the original content again
  repairs the store instead of recording a new version on top of damaged files.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import shutil
import stat
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from modelplane import config
from modelplane.artifacts.materializers import (
    REGISTRY,
    ArtifactWarning,
    Materializer,
    MaterializerError,
    qualified_name,
)
from modelplane.domain.errors import (
    ArtifactCorruptedError,
    ConcurrencyError,
    NotFoundError,
    ValidationError,
)

TEMP_FOLDER = ".tmp"
LOCK_FOLDER = ".locks"  # one empty lock file per hash that was ever repaired
LOADED_PREFIX = "modelplane-artifact-"
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


def _digest_file(path: Path, buffer: bytearray, copy_to: Path | None = None) -> tuple[int, bytes]:
    """Size and sha256 of a file, read in 1 MiB chunks into one reused buffer.

    With ``copy_to``, the same chunks are written to that new file (owner-writable, other
    mode bits kept): the copy holds exactly the bytes that were hashed.
    """
    digest = hashlib.sha256()
    view = memoryview(buffer)
    size = 0
    with open(path, "rb", buffering=0) as file:
        out = -1
        if copy_to is not None:
            mode = stat.S_IMODE(os.fstat(file.fileno()).st_mode) | stat.S_IWUSR | stat.S_IRUSR
            out = _copy_step(os.open, copy_to, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        try:
            while count := file.readinto(buffer):
                chunk = view[:count]
                digest.update(chunk)
                while chunk and out >= 0:
                    chunk = chunk[_copy_step(os.write, out, chunk) :]
                size += count
        finally:
            if out >= 0:
                os.close(out)
    return size, digest.digest()


class _CopyError(Exception):
    """Writing the private copy failed (a full temp disk, say): not the store's damage."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error)
        self.error = error


def _copy_step(function: Any, *args: Any) -> Any:
    try:
        return function(*args)
    except OSError as error:
        raise _CopyError(error) from error


class _NotRegular(Exception):
    """A folder entry that an artifact cannot hold (a symlink, a fifo, a device)."""

    def __init__(self, name: str, kind: str) -> None:
        super().__init__(name, kind)
        self.name = name
        self.kind = kind


def _tree_digest(
    folder: Path, copy_to: Path | None = None
) -> tuple[str, int, list[Path], list[Path]]:
    """Tree hash, total size, files and sub-folders (deepest first) of a folder.

    With ``copy_to`` (an existing empty folder), the tree is copied there in the same pass.
    Raises ``_NotRegular`` for an entry that is not a regular file or folder, ``OSError``
    when something cannot be read.
    """
    entries: list[tuple[bytes, Path, bool]] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        base = Path(dirpath)
        for name in dirnames:
            path = base / name
            if path.is_symlink():
                raise _NotRegular(name, "a symlink")
            entries.append((os.fsencode(path.relative_to(folder).as_posix()), path, True))
        for name in filenames:
            path = base / name
            if not path.is_file() or path.is_symlink():
                raise _NotRegular(name, "not a regular file")
            entries.append((os.fsencode(path.relative_to(folder).as_posix()), path, False))
    # A folder's path is a prefix of its entries' paths, so it sorts (and is copied) first.
    entries.sort(key=lambda entry: entry[0])
    tree = hashlib.sha256(_HASH_PREFIX)
    buffer = bytearray(_CHUNK)
    total = 0
    files: list[Path] = []
    dirs: list[Path] = []
    for rel, path, is_dir in entries:
        target = None if copy_to is None else copy_to / os.fsdecode(rel)
        if is_dir:
            tree.update(_dir_entry(rel))
            dirs.append(path)
            if target is not None:
                _copy_step(target.mkdir)
        else:
            size, digest = _digest_file(path, buffer, target)
            tree.update(_file_entry(rel, size, digest))
            total += size
            files.append(path)
    dirs.sort(key=lambda path: len(path.parts), reverse=True)
    return tree.hexdigest(), total, files, dirs


def _hash_tree(folder: Path) -> tuple[str, int, list[Path], list[Path]]:
    """``_tree_digest`` of a folder a materializer just wrote (its errors are the writer's)."""
    try:
        return _tree_digest(folder)
    except _NotRegular as error:
        if error.kind == "a symlink":
            msg = f"materializer wrote {error.name!r}, a symlink: artifacts hold regular files"
        else:
            msg = f"materializer wrote {error.name!r}, which is not a regular file"
        raise MaterializerError(msg) from None


def _damage(folder: Path, content_hash: str, copy_to: Path | None = None) -> str | None:
    """Why ``folder`` does not hold the content named ``content_hash``; None if it does.

    Reads every file (with ``copy_to``, copying it there in the same pass). Never raises for
    what it finds on disk: a missing, unreadable or altered folder is a reason, not an error.
    Only a failure to write the copy raises (``_CopyError``), as it says nothing of the store.
    """
    if not folder.is_dir():
        return f"its stored folder {folder} is missing"
    try:
        actual = _tree_digest(folder, copy_to)[0]
    except _NotRegular as error:
        return f"{error.name!r} in its stored folder is {error.kind}"
    except OSError as error:
        return f"its stored files cannot be read ({error})"
    if actual != content_hash:
        return (
            "its stored files no longer match the recorded content hash "
            "(a file was changed, truncated, added or removed)"
        )
    return None


def _is_hash(text: str) -> bool:
    return len(text) == 64 and _HEX.issuperset(text)


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
        if not _is_hash(content_hash):
            msg = f"not a sha256 content hash: {content_hash!r}"
            raise ValidationError(msg)
        return self._root / content_hash[:2] / content_hash

    def exists(self, content_hash: str) -> bool:
        """Whether a folder is stored under this hash (``verify`` says if it is intact)."""
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
        and leaves nothing behind; so does any error the materializer raises. An already
        stored copy is reused only if it still hashes to its name; a damaged one is replaced.
        """
        chosen = self._choose(value, materializer)
        self._ensure_root()
        encoded = chosen.to_file(value)
        if encoded is not None:
            name, payload = encoded
            content_hash = _hash_one(name, payload)
            size = len(payload)
            new = False
            if not self._stored_intact(content_hash):
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
                if self._stored_intact(content_hash):
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

    def _stored_intact(self, content_hash: str) -> bool:
        """Whether this content is stored and undamaged, so a save may reuse it.

        Checking costs one read of the stored copy (about 10 ms for a 14 MB parquet file); a
        damaged copy must not be deduplicated onto, or the new version would be recorded on
        top of bytes that no longer are its content.
        """
        if not self.exists(content_hash):
            return False
        return _damage(self.path_for(content_hash), content_hash) is None

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
        config.writable_folder(self._root, "The artifact store")
        (self._root / TEMP_FOLDER).mkdir(exist_ok=True)
        if created:
            _fsync_fd_of(self._root.parent)
        self._ready = True

    def _new_temp(self, prefix: str = "") -> Path:
        prefix = f"{os.getpid()}-{prefix}"
        try:
            return Path(tempfile.mkdtemp(prefix=prefix, dir=self._root / TEMP_FOLDER))
        except FileNotFoundError:  # the root was removed under us: make it again
            self._ready = False
            self._ensure_root()
            return Path(tempfile.mkdtemp(prefix=prefix, dir=self._root / TEMP_FOLDER))

    def _publish(self, temp: Path, content_hash: str) -> bool:
        """Rename the sealed temp folder to its hash path; False if an intact copy is there."""
        final = self.path_for(content_hash)
        prefix = final.parent
        try:
            prefix.mkdir()
            _fsync_fd_of(self._root)
        except FileExistsError:
            pass
        if _rename_into_place(temp, final):
            _fsync_fd_of(prefix)
            return True
        if _damage(final, content_hash) is None:
            # Lost the race: the winner published the same bytes. Make sure they are durable
            # before acknowledging them too (the winner may not have fsync'd the parent yet).
            _discard(temp)
            _fsync_fd_of(prefix)
            return False
        return self._replace_damaged(temp, final, content_hash)

    def _replace_damaged(self, temp: Path, final: Path, content_hash: str) -> bool:
        """Put the sealed ``temp`` in place of the damaged folder at ``final``.

        The new save is good data: its bytes were hashed to this name a moment ago, while the
        stored copy no longer hashes to it. Reusing the damaged copy would record a version
        nobody can load, so it is moved aside (one rename into ``.tmp``, then deleted) and
        ``temp`` is renamed into its place. A directory cannot be renamed onto a non-empty one,
        so a reader may briefly find the hash path missing (an ``ArtifactCorruptedError``, as
        it was already damaged), never a half-written folder. Done under a per-hash lock, so
        two savers repairing the same content cannot move each other's good copy aside; a
        save that publishes in the gap without the lock publishes the same good bytes.
        """
        prefix = final.parent
        with self._locked(content_hash):
            for _ in range(3):
                if os.path.lexists(final):
                    if _damage(final, content_hash) is None:  # repaired by someone else
                        _discard(temp)
                        _fsync_fd_of(prefix)
                        return False
                    aside = self._new_temp("damaged-")
                    _move_aside(final, aside / "damaged")
                    _fsync_fd_of(prefix)
                    placed = _rename_into_place(temp, final)
                    _discard(aside)
                else:
                    placed = _rename_into_place(temp, final)
                if placed:
                    _fsync_fd_of(prefix)
                    return True
        _discard(temp)
        msg = f"the stored copy of content {content_hash} keeps changing while it is repaired"
        raise ConcurrencyError(msg)

    @contextmanager
    def _locked(self, content_hash: str) -> Iterator[None]:
        """An exclusive lock (flock, released on close or death) for repairing one hash."""
        folder = self._root / LOCK_FOLDER
        folder.mkdir(exist_ok=True)
        fd = os.open(folder / f"{content_hash}.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def verify(self, content_hash: str) -> bool:
        """Whether the stored files still hash to their name (False if missing or altered)."""
        return _damage(self.path_for(content_hash), content_hash) is None

    # -- load ------------------------------------------------------------------------------

    def load(
        self,
        artifact: StoredArtifact | str,
        *,
        materializer: str | None = None,
        data_type: str | None = None,
        label: str | None = None,
    ) -> Any:
        """The value back, from a ``StoredArtifact`` or from a URI plus the recorded names.

        A ``StoredArtifact`` is looked up by its hash in this store first, so records keep
        working when ``MODELPLANE_HOME`` moves; its URI is the fallback. A URI must name a
        store folder (its last part is the content hash), since that is what is checked.

        Every load hashes what it reads: a missing, altered or unreadable stored folder
        raises ``ArtifactCorruptedError``, "LABEL is corrupted: why", where ``label``
        (default "artifact HASH") names the artifact, e.g. "artifact NAME version N". A
        materializer with ``private_copy`` (paths) loads from a fresh copy under the
        system temp folder, which the caller owns.

        Hashing costs one more read of data the materializer reads anyway (from the page
        cache): about 10 ms on a 1M-row DataFrame whose load takes 40-60 ms. A cheaper check
        (sizes, mtimes) would miss an edit in place of the same size, so it is not used.
        """
        if isinstance(artifact, StoredArtifact):
            content_hash = artifact.content_hash
            folder = self.path_for(content_hash)
            if not folder.is_dir() and _path_of(artifact.uri).is_dir():
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
            content_hash = folder.name
            if not _is_hash(content_hash):
                msg = f"{folder} is not an artifact folder: its name is not a content hash"
                raise ValidationError(msg)
        label = label or f"artifact {content_hash}"
        cls = REGISTRY.by_name(materializer)
        if cls.private_copy:
            return _load_copy(cls(), folder, content_hash, data_type, label)
        why = _damage(folder, content_hash)
        if why is not None:
            raise ArtifactCorruptedError(f"{label} is corrupted: {why}")
        try:
            return cls().load(folder, data_type)
        except Exception as error:
            # The bytes matched a moment ago. If they no longer do, they changed during the
            # read: the error is the damage's, not the materializer's. Otherwise (a class
            # that moved, a library missing) it is not corruption and goes up unchanged.
            why = _damage(folder, content_hash)
            if why is None:
                raise
            raise ArtifactCorruptedError(f"{label} is corrupted: {why}") from error

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


def _rename_into_place(temp: Path, final: Path) -> bool:
    """Rename ``temp`` to ``final``; False (``temp`` left as is) if something is there."""
    try:
        os.rename(temp, final)
    except OSError as error:
        # A non-empty folder (ENOTEMPTY/EEXIST) or a file or symlink (ENOTDIR) at ``final``.
        if error.errno in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR) and os.path.lexists(final):
            return False
        raise
    return True


def _move_aside(path: Path, target: Path) -> None:
    """Rename a damaged stored entry out of the way (a folder needs write access to move).

    Already gone is fine: whoever removed it left the path free for the good copy.
    """
    try:
        try:
            os.rename(path, target)
        except PermissionError:
            os.chmod(path, stat.S_IRWXU)
            os.rename(path, target)
    except FileNotFoundError:
        pass


def _load_copy(
    materializer: Materializer, folder: Path, content_hash: str, data_type: str, label: str
) -> Any:
    """Load from a private copy of ``folder``, copied and hash-checked in one pass.

    A fresh temp folder per load, so two loads never share files; it is not deleted (as in
    ZenML, the returned path is the caller's to keep, change or remove).
    """
    target = Path(tempfile.mkdtemp(prefix=LOADED_PREFIX))
    try:
        try:
            why = _damage(folder, content_hash, copy_to=target)
        except _CopyError as error:
            raise error.error from None
        if why is not None:
            raise ArtifactCorruptedError(f"{label} is corrupted: {why}")
        return materializer.load(target, data_type)
    except BaseException:
        _discard(target)
        raise


def _path_of(uri: str) -> Path:
    if uri.startswith("file://"):
        return Path(unquote(urlparse(uri).path))
    return Path(uri)
