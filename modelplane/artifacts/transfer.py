"""Moving a stored artifact folder between stores: a server's and a client's cache.

An artifact crosses the wire as an uncompressed tar of its folder (materializers already
compress what is worth it). What is received is never trusted: only regular files and folders
with relative paths inside the archive are accepted (no links, devices, absolute paths or
``..``), they are written into a fresh temp folder of the receiving store, and the folder is
published under its hash only if its tree hash is the one announced. An upload that dies
mid-way leaves at most a temp folder, never a visible artifact.
"""

from __future__ import annotations

import errno
import os
import tarfile
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import IO

from modelplane.domain.errors import ArtifactCorruptedError, NotFoundError, ValidationError

from .content_store import (
    ArtifactStore,
    _damage,
    _discard,
    _fsync_fd_of,
    _NotRegular,
    _seal_file,
    _tree_digest,
)

_CHUNK = 1 << 20


class _Pipe:
    """A write-only file object whose writes are collected for a generator to hand out."""

    def __init__(self) -> None:
        self.chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> list[bytes]:
        chunks, self.chunks = self.chunks, []
        return chunks


def pack(store: ArtifactStore, content_hash: str) -> Iterator[bytes]:
    """The tar stream of a stored folder, checked intact first (else
    ``ArtifactCorruptedError``); ``NotFoundError`` if the store does not hold it."""
    folder = store.path_for(content_hash)
    if not folder.is_dir():
        raise NotFoundError(f"No stored artifact content has the hash {content_hash}.")
    why = _damage(folder, content_hash)
    if why is not None:
        raise ArtifactCorruptedError(f"artifact content {content_hash} is corrupted: {why}")
    return _stream(folder)


def _stream(folder: Path) -> Iterator[bytes]:
    pipe = _Pipe()
    with tarfile.open(fileobj=pipe, mode="w|", format=tarfile.PAX_FORMAT) as archive:  # type: ignore[call-overload]
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames.sort()
            base = Path(dirpath)
            for name in [*sorted(dirnames), *sorted(filenames)]:
                path = base / name
                rel = path.relative_to(folder).as_posix()
                info = archive.gettarinfo(str(path), arcname=rel)
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                if info.isdir():
                    archive.addfile(info)
                else:
                    with path.open("rb") as handle:
                        archive.addfile(info, handle)
                yield from pipe.take()
    yield from pipe.take()


def receive(store: ArtifactStore, content_hash: str, source: IO[bytes]) -> bool:
    """Unpack the tar in ``source`` into ``store`` as the content ``content_hash``.

    True if it was published, False if an intact copy was already there. A bad archive, an
    entry that is not a plain file or folder, or content whose hash is not the one announced
    raises ``ValidationError`` and leaves nothing behind.
    """
    store.path_for(content_hash)  # a malformed hash is refused before anything is written
    store._ensure_root()
    temp = store._new_temp("upload-")
    try:
        _unpack(source, temp)
        try:
            actual, _, files, dirs = _tree_digest(temp)
        except _NotRegular as error:
            raise ValidationError(f"upload holds {error.name!r}, which is {error.kind}") from None
        if actual != content_hash:
            msg = (
                f"the uploaded files hash to {actual}, not to {content_hash}: "
                "the upload is incomplete or altered"
            )
            raise ValidationError(msg)
        for path in files:
            _seal_file(path)
        for path in dirs:
            _fsync_fd_of(path)
        _fsync_fd_of(temp)
        return store._publish(temp, content_hash)
    except BaseException:
        _discard(temp)
        raise


def _unpack(source: IO[bytes], into: Path) -> None:
    try:
        with tarfile.open(fileobj=source, mode="r|") as archive:  # type: ignore[call-overload]
            for member in archive:
                target = into / _safe_name(member.name)
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                elif member.type in _PLAIN and member.sparse is None:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    extracted = archive.extractfile(member)
                    assert extracted is not None
                    with open(target, "xb") as out:
                        while chunk := extracted.read(_CHUNK):
                            out.write(chunk)
                else:
                    raise ValidationError(f"upload holds {member.name!r}, which is {_kind(member)}")
            end = archive.offset
    except ValidationError:
        raise
    except (tarfile.TarError, EOFError, ValueError, OverflowError) as error:
        # ValueError: tarfile parses some headers (sparse maps) with int() and split()
        raise ValidationError(f"the upload is not a complete tar archive ({error})") from None
    except (FileExistsError, NotADirectoryError, IsADirectoryError) as error:
        msg = f"upload holds {error.filename!r} twice, or as both a file and a folder"
        raise ValidationError(msg) from None
    except OSError as error:
        if error.errno != errno.ENAMETOOLONG:
            raise
        raise ValidationError("upload holds a path too long for the server's disk") from None
    _check_end(source, end)


#: tar member types unpacked as files: plain regular files only (a sparse file, GNU's or
#: PAX's, would expand a small upload into as many bytes of holes as its header claims)
_PLAIN = frozenset({tarfile.REGTYPE, tarfile.AREGTYPE})


def _kind(member: tarfile.TarInfo) -> str:
    if member.issym() or member.islnk():
        return "a link"
    if member.sparse is not None or member.type == tarfile.GNUTYPE_SPARSE:
        return "a sparse file"
    return "not a regular file"


def _check_end(source: IO[bytes], end: int) -> None:
    """Refuse an archive that stops without its end marker (two zero blocks).

    tarfile reads a stream cut at a member boundary, or one whose last header is cut or
    garbled, as a shorter archive without a word: only the marker shows it was sent whole.
    """
    source.seek(end)
    if source.read(2 * tarfile.BLOCKSIZE) != bytes(2 * tarfile.BLOCKSIZE):
        raise ValidationError("the upload is not a complete tar archive (no end marker)")


def _safe_name(name: str) -> str:
    """A member's path, refused if it could land outside the folder it is unpacked into."""
    path = PurePosixPath(name)
    if (
        not name
        or path.is_absolute()
        or ".." in path.parts
        or "\x00" in name
        or "\\" in name
        or name.startswith("/")
    ):
        raise ValidationError(f"upload holds {name!r}, a path outside its folder")
    return str(path)
