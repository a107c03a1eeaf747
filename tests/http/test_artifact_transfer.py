"""Artifact bytes over HTTP cannot leave, enter beside, or half-enter the server's store.

Against a real server process: hostile paths on ``/artifact_store/{hash}`` and the artifact
routes get a JSON error and never a file from outside the store; hostile tars (links, device
files, absolute or ``..`` paths, content that does not hash to its claim, truncated archives,
uploads cut off mid-body) are refused with a typed error and leave nothing in the store, no
temp folder beside it and nothing in the log. What a writer uploads comes back byte for byte,
over raw HTTP and through the remote SDK, whose downloads are cached by content hash.
"""

from __future__ import annotations

import http.client
import io
import os
import socket
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from modelplane.artifacts.content_store import ArtifactStore, _hash_one
from modelplane.artifacts.transfer import pack
from modelplane.backend import http as http_backend
from modelplane.store_handle import close_all
from tests.servers import RunningServer

from .conftest import API, artifact_folder, assert_error, call, log_length, make_token

TAR = {"Content-Type": "application/x-tar"}
#: a file outside the store whose bytes no answer may ever carry
SECRET = b"modelplane-secret-outside-the-store-7d1f"


# ---------------------------------------------------------------- helpers


def source_folder(root: Path) -> Path:
    """A folder with nested folders, an empty file and every byte value."""
    folder = root / "model-files"
    (folder / "weights" / "layer0").mkdir(parents=True)
    (folder / "weights" / "layer0" / "w.bin").write_bytes(bytes(range(256)) * 513)
    (folder / "weights" / "empty").write_bytes(b"")
    (folder / "config.json").write_bytes(b'{"layers": 1, "name": "\xc3\xa9cole"}\n')
    (folder / "empty-dir").mkdir()
    return folder


@pytest.fixture(scope="module")
def content(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, bytes, Path]:
    """(hash, tar bytes, source) of one stored folder, made by a client-side store."""
    root = tmp_path_factory.mktemp("client-content")
    source = source_folder(root)
    store = ArtifactStore(root / "store")
    stored = store.save(source)
    return stored.content_hash, b"".join(pack(store, stored.content_hash)), source


@pytest.fixture(scope="module")
def outside(server: RunningServer) -> Path:
    """A secret file beside the server's home, where a traversal would land."""
    path = server.home.parent / "secret.txt"
    path.write_bytes(SECRET)
    (server.home / "secret.txt").write_bytes(SECRET)
    return path


def member(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", **extra: Any) -> Any:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    info.mode = 0o644
    for key, value in extra.items():
        setattr(info, key, value)
    return info, data


def tar_of(*members: tuple[tarfile.TarInfo, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for info, data in members:
            archive.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buffer.getvalue()


def temp_entries(server: RunningServer) -> list[str]:
    """What is left in the store's temp folder (uploads unpack there first)."""
    temp = server.home / "artifacts" / ".tmp"
    return sorted(os.listdir(temp)) if temp.is_dir() else []


def store_hashes(server: RunningServer) -> set[str]:
    root = server.home / "artifacts"
    if not root.is_dir():
        return set()
    return {
        entry.name
        for prefix in root.iterdir()
        if len(prefix.name) == 2 and prefix.is_dir()
        for entry in prefix.iterdir()
    }


def head(server: RunningServer, content_hash: str, token: str | None = None) -> int:
    response = call(server, "HEAD", f"/artifact_store/{content_hash}", token or server.admin_token)
    return response.status_code


def put(
    server: RunningServer, content_hash: str, body: bytes, token: str | None = None
) -> httpx.Response:
    """Upload ``body`` as the tar of the content named ``content_hash`` (admin by default)."""
    path = f"/artifact_store/{content_hash}"
    return call(server, "PUT", path, token or server.admin_token, content=body, headers=TAR)


def assert_absent(server: RunningServer, content_hash: str, before: set[str]) -> None:
    """Nothing of a refused upload is visible: not by HEAD, not on disk, no temp folder."""
    assert head(server, content_hash) == 404
    assert not artifact_folder(server, content_hash).exists()
    assert store_hashes(server) == before
    deadline = time.monotonic() + 5
    while temp_entries(server) and time.monotonic() < deadline:
        time.sleep(0.05)  # a cut-off upload is cleaned up once the server notices
    assert temp_entries(server) == []


def bugs_logged(server: RunningServer) -> int:
    """How many failures the server logged as its own bugs (each would be a 500)."""
    logs = server.home.parent.glob("server-*.log")
    return sum(log.read_text(errors="replace").count("unhandled error") for log in logs)


def raw(server: RunningServer, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    """One request with ``path`` sent exactly as written (no client-side normalisation)."""
    parts = urlsplit(server.url)
    connection = http.client.HTTPConnection(str(parts.hostname), parts.port, timeout=30)
    try:
        connection.putrequest(method, path, skip_accept_encoding=True)
        connection.putheader("Authorization", f"Bearer {server.admin_token}")
        connection.putheader("Content-Length", str(len(body)))
        connection.endheaders(body)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


# ---------------------------------------------------------------- paths


TRAVERSALS = [
    "../../../../../etc/passwd",
    "..%2F..%2F..%2F..%2Fetc%2Fpasswd",
    "%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "%2E%2E/%2E%2E/secret.txt",
    "%252e%252e%252f%252e%252e%252fsecret.txt",
    "..%5C..%5C..%5Csecret.txt",
    "..\\..\\..\\secret.txt",
    "%2Fetc%2Fpasswd",
    "/etc/passwd",
    "..",
    "%2e%2e",
    ".",
    "%00",
    "..%00",
    "a" * 64 + "%00",
    "a" * 63 + "%00",
    "A" * 64,
    "a" * 64 + "/../../secret.txt",
    "a" * 64 + "%2F..%2F..%2Fsecret.txt",
    "~root",
    "aa/" + "a" * 64,
    "%2Fproc%2Fself%2Fenviron",
]


@pytest.mark.parametrize("method", ["HEAD", "GET", "PUT"])
def test_store_paths_never_leave_the_store(
    server: RunningServer, outside: Path, content: tuple[str, bytes, Path], method: str
) -> None:
    _, body, _ = content
    before, hashes = log_length(server), store_hashes(server)
    for target in TRAVERSALS:
        status, answer = raw(server, method, f"{API}/artifact_store/{target}", body)
        assert status in (400, 404, 422), (method, target, status, answer[:300])
        assert SECRET not in answer and b"root:" not in answer and b"ustar" not in answer
        if method != "HEAD":
            response = httpx.Response(status, headers={"content-type": "application/json"})
            response._content = answer
            assert_error(response, status)
    assert store_hashes(server) == hashes
    assert temp_entries(server) == []
    assert log_length(server) == before


def test_artifact_routes_refuse_traversal(server: RunningServer, outside: Path) -> None:
    before = log_length(server)
    for target in TRAVERSALS:
        for path in (
            f"{API}/artifact_versions/{target}",
            f"{API}/artifact_versions/{target}?version=1",
            f"{API}/artifact_versions/{target}/consumers",
            f"{API}/artifacts/{target}/name",
        ):
            status, answer = raw(server, "GET", path)
            assert status in (400, 404, 422), (path, status, answer[:300])
            assert SECRET not in answer and b"root:" not in answer
            response = httpx.Response(status, headers={"content-type": "application/json"})
            response._content = answer
            assert_error(response, status)
    # recording a version under a hostile hash is refused before anything is looked up
    for bad in ("../../secret.txt", "a" * 64 + "/..", "/etc/passwd", "a" * 63 + "\x00"):
        response = call(
            server,
            "POST",
            "/artifact_versions",
            server.admin_token,
            json={
                "name": "evil",
                "content_hash": bad,
                "materializer": "modelplane.bytes",
                "data_type": "builtins:bytes",
                "artifact_type": "DataArtifact",
                "size_bytes": 1,
            },
        )
        assert response.status_code in (400, 422), response.text
        assert_error(response, response.status_code)
    assert log_length(server) == before


# ---------------------------------------------------------------- hostile archives


def hostile_archives(tag: str) -> dict[str, bytes]:
    """Archives that must not be unpacked; ``tag`` makes their escape targets unique."""
    ok = member("ok.txt", data=b"fine")
    return {
        "symlink": tar_of(ok, member("link", tarfile.SYMTYPE, linkname="/etc/passwd")),
        "relative symlink": tar_of(member("up", tarfile.SYMTYPE, linkname="../../..")),
        "symlink then write through it": tar_of(
            member("d", tarfile.SYMTYPE, linkname=f"/tmp/{tag}"),
            member(f"d/{tag}", data=b"through the link"),
        ),
        "hardlink": tar_of(ok, member("hard", tarfile.LNKTYPE, linkname="/etc/passwd")),
        "hardlink to a member": tar_of(ok, member("hard", tarfile.LNKTYPE, linkname="ok.txt")),
        "absolute path": tar_of(member(f"/tmp/{tag}-abs", data=b"escaped")),
        "dot-dot": tar_of(member(f"../{tag}-up", data=b"escaped")),
        "nested dot-dot": tar_of(member(f"a/../../../{tag}-nested", data=b"escaped")),
        "backslash": tar_of(member(f"..\\..\\{tag}-bs", data=b"escaped")),
        "character device": tar_of(member("null", tarfile.CHRTYPE, devmajor=1, devminor=3)),
        "block device": tar_of(member("disk", tarfile.BLKTYPE, devmajor=8, devminor=0)),
        "fifo": tar_of(member("pipe", tarfile.FIFOTYPE)),
        "duplicate": tar_of(ok, ok),
        "file then folder": tar_of(ok, member("ok.txt", tarfile.DIRTYPE)),
        "sparse file": tar_of(sparse_member("holes", 1 << 20)),
        "garbled sparse map": tar_of(sparse_member("holes", 1 << 20, sparse_map=b"zz\n")),
        "name too long for a disk": tar_of(member("n" * 300, data=b"long")),
        "file under a file": tar_of(ok, member("ok.txt/inner", data=b"x")),
        "folder under a file": tar_of(ok, member("ok.txt/inner", tarfile.DIRTYPE)),
        "members without the end marker": tar_of(ok)[:1024],
        "garbage after the members": tar_of(ok)[:1024] + b"\xff" * 1024,
        "not a tar": b"this is not an archive at all" * 40,
        "empty body": b"",
    }


def sparse_member(name: str, size: int, sparse_map: bytes | None = None) -> Any:
    """A PAX 1.0 sparse file of ``size`` bytes (all holes but its last byte) in 513 bytes."""
    sparse_map = sparse_map or f"1\n{size - 1}\n1\n".encode()
    data = sparse_map.ljust(tarfile.BLOCKSIZE, b"\0") + b"x"
    info, _ = member(f"GNUSparseFile.0/{name}", data=data)
    info.pax_headers = {
        "GNU.sparse.major": "1",
        "GNU.sparse.minor": "0",
        "GNU.sparse.name": name,
        "GNU.sparse.realsize": str(size),
    }
    return info, data


def test_a_sparse_file_cannot_expand_past_what_was_sent(server: RunningServer) -> None:
    """1.5 KB on the wire must not become 32 MB on the server's disk, even when the claimed
    hash is the expanded content's (so the hash check alone would let it through)."""
    size = 32 << 20
    expanded = _hash_one("holes", bytes(size - 1) + b"x")
    archive = tar_of(sparse_member("holes", size))
    assert len(archive) <= tarfile.RECORDSIZE
    hashes = store_hashes(server)
    response = put(server, expanded, archive)
    assert "sparse" in assert_error(response, 400, "ValidationError")["message"]
    assert_absent(server, expanded, hashes)


def escape_targets(server: RunningServer, tag: str) -> list[Path]:
    return [
        Path(f"/tmp/{tag}"),
        Path(f"/tmp/{tag}-abs"),
        *(
            base / f"{tag}-{suffix}"
            for base in (server.home / "artifacts", server.home, server.home.parent)
            for suffix in ("up", "nested", "bs")
        ),
    ]


def test_hostile_archives_are_refused_and_leave_nothing(
    server: RunningServer, content: tuple[str, bytes, Path]
) -> None:
    claimed = content[0]  # a plausible hash the server does not hold yet
    tag = f"mp-escape-{uuid.uuid4().hex[:8]}"
    events, hashes, bugs = log_length(server), store_hashes(server), bugs_logged(server)
    for what, archive in hostile_archives(tag).items():
        response = put(server, claimed, archive)
        error = assert_error(response, 400, "ValidationError")
        assert error["message"], what
        assert_absent(server, claimed, hashes)
    for target in escape_targets(server, tag):
        assert not os.path.lexists(target), target
    assert log_length(server) == events
    assert bugs_logged(server) == bugs


def test_content_that_does_not_hash_to_its_claim_is_refused(
    server: RunningServer, content: tuple[str, bytes, Path]
) -> None:
    content_hash, body, _ = content
    events, hashes = log_length(server), store_hashes(server)
    wrong = "0" * 64
    response = put(server, wrong, body)
    assert "hash" in assert_error(response, 400, "ValidationError")["message"]
    assert_absent(server, wrong, hashes)
    assert_absent(server, content_hash, hashes)
    # one file more than the content the hash names
    extra = tar_of(member("extra.txt", data=b"smuggled"))
    grown = _append_member(body, extra)
    response = put(server, content_hash, grown)
    assert_error(response, 400, "ValidationError")
    assert_absent(server, content_hash, hashes)
    assert log_length(server) == events


def _append_member(archive: bytes, other: bytes) -> bytes:
    """``archive`` with the members of ``other`` appended (both plain tars)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as out:
        for source in (archive, other):
            with tarfile.open(fileobj=io.BytesIO(source)) as archive_in:
                for info in archive_in.getmembers():
                    data = archive_in.extractfile(info) if info.isreg() else None
                    out.addfile(info, data)
    return buffer.getvalue()


def test_truncated_archives_are_refused(
    server: RunningServer, content: tuple[str, bytes, Path]
) -> None:
    content_hash, body, _ = content
    events, hashes = log_length(server), store_hashes(server)
    end = _members_end(body)
    # mid-header, mid-data, at a member boundary, and in or before the end marker
    cuts = {100, 512, 700, len(body) // 2, end - 512, end, end + 512, end + 1023}
    for cut in sorted(cuts):
        response = put(server, content_hash, body[:cut])
        assert_error(response, 400, "ValidationError")
        assert_absent(server, content_hash, hashes)
    assert log_length(server) == events


# ---------------------------------------------------------------- cut-off uploads


def _members_end(archive: bytes) -> int:
    """Where the end marker of ``archive`` starts (just past its last member's data)."""
    with tarfile.open(fileobj=io.BytesIO(archive)) as opened:
        last = opened.getmembers()[-1]
    return last.offset_data + -(-last.size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE


def _socket_to(server: RunningServer) -> socket.socket:
    parts = urlsplit(server.url)
    return socket.create_connection((str(parts.hostname), parts.port or 80), timeout=10)


def test_upload_cut_off_mid_body_leaves_nothing(
    server: RunningServer, content: tuple[str, bytes, Path]
) -> None:
    content_hash, body, _ = content
    events, hashes, bugs = log_length(server), store_hashes(server), bugs_logged(server)
    head_lines = (
        f"PUT {API}/artifact_store/{content_hash} HTTP/1.1\r\n"
        f"Host: 127.0.0.1\r\nAuthorization: Bearer {server.admin_token}\r\n"
        "Content-Type: application/x-tar\r\n"
    )
    # a declared length larger than what is sent, then the socket closes
    with _socket_to(server) as sock:
        sock.sendall(f"{head_lines}Content-Length: {len(body) + 4096}\r\n\r\n".encode())
        sock.sendall(body)
    assert_absent(server, content_hash, hashes)
    # the whole archive sent in chunks, but never the terminating chunk
    with _socket_to(server) as sock:
        sock.sendall(f"{head_lines}Transfer-Encoding: chunked\r\n\r\n".encode())
        for start in range(0, len(body), 8192):
            piece = body[start : start + 8192]
            sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
    assert_absent(server, content_hash, hashes)
    # a chunk announced larger than what follows
    with _socket_to(server) as sock:
        sock.sendall(f"{head_lines}Transfer-Encoding: chunked\r\n\r\n".encode())
        sock.sendall(f"{len(body):x}\r\n".encode() + body[: len(body) // 2])
    assert_absent(server, content_hash, hashes)
    assert log_length(server) == events
    assert bugs_logged(server) == bugs  # a client that went away is not a server failure
    # the server is still well and takes the same upload whole
    response = put(server, content_hash, body)
    assert response.status_code == 204, response.text
    assert head(server, content_hash) == 200
    assert temp_entries(server) == []


# ---------------------------------------------------------------- who may upload


def test_a_read_token_cannot_upload(server: RunningServer, tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "store")
    stored = store.save(b"a read token must not store this " + uuid.uuid4().bytes)
    body = b"".join(pack(store, stored.content_hash))
    reader = make_token(server, "read")
    events, hashes = log_length(server), store_hashes(server)
    response = put(server, stored.content_hash, body, reader)
    assert_error(response, 403, "PermissionDeniedError")
    assert_absent(server, stored.content_hash, hashes)
    assert head(server, stored.content_hash, reader) == 404
    response = call(
        server,
        "POST",
        "/artifact_versions",
        reader,
        json={
            "name": "read-upload",
            "content_hash": stored.content_hash,
            "materializer": stored.materializer,
            "data_type": stored.data_type,
            "artifact_type": stored.artifact_type,
            "size_bytes": stored.size_bytes,
        },
    )
    assert_error(response, 403, "PermissionDeniedError")
    assert log_length(server) == events


# ---------------------------------------------------------------- round trips


def _tree(folder: Path) -> dict[str, bytes | None]:
    """Every entry under ``folder``: a file's bytes, None for a folder."""
    found: dict[str, bytes | None] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        found[rel] = None if path.is_dir() else path.read_bytes()
    return found


def test_upload_then_download_round_trips_bytes_exactly(
    server: RunningServer, content: tuple[str, bytes, Path], tmp_path: Path
) -> None:
    content_hash, body, source = content
    reader = make_token(server, "read")
    events = log_length(server)
    for _ in range(2):  # the second upload of the same content is a no-op
        response = put(server, content_hash, body)
        assert response.status_code == 204, response.text
    assert head(server, content_hash) == 200
    stored = artifact_folder(server, content_hash)
    assert _tree(stored) == {f"model-files/{k}": v for k, v in _tree(source).items()} | {
        "model-files": None
    }
    response = call(server, "GET", f"/artifact_store/{content_hash}", reader)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-tar"
    with tarfile.open(fileobj=io.BytesIO(response.content)) as archive:
        assert all(m.isreg() or m.isdir() for m in archive.getmembers())
        archive.extractall(tmp_path / "down", filter="data")
    assert _tree(tmp_path / "down") == _tree(stored)
    assert temp_entries(server) == []
    assert log_length(server) == events  # bytes alone append nothing


@pytest.fixture
def remote_sdk(
    server: RunningServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """This process's SDK talks to ``server`` with a write token; yields the client home."""
    token = make_token(server, "write")
    home = tmp_path / "client-home"
    close_all()
    monkeypatch.delenv("MODELPLANE_STORE_URL", raising=False)
    monkeypatch.delenv("MODELPLANE_ACTOR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("MODELPLANE_HOME", str(home))
    monkeypatch.setenv("MODELPLANE_SERVER_URL", server.url)
    monkeypatch.setenv("MODELPLANE_API_TOKEN", token)
    yield home
    close_all()
    http_backend.close_all()


def test_remote_sdk_round_trip_and_download_cache(
    server: RunningServer,
    remote_sdk: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from modelplane.artifacts.utils import load_artifact, save_artifact
    from modelplane.backend import current
    from modelplane.backend.http import HttpBackend

    assert isinstance(current(), HttpBackend)
    name = f"blob-{uuid.uuid4().hex[:8]}"
    payload = bytes(range(256)) * 4099 + uuid.uuid4().bytes
    events = log_length(server)
    saved = save_artifact(name, payload)
    assert log_length(server) > events
    content_hash = saved.content_hash
    assert artifact_folder(server, content_hash).is_dir()
    assert (artifact_folder(server, content_hash) / "data.bin").read_bytes() == payload
    assert load_artifact(name) == payload

    # a second machine (another home, empty cache) downloads it once, then reads its cache
    other = tmp_path / "other-home"
    monkeypatch.setenv("MODELPLANE_HOME", str(other))
    close_all()
    cached = other / "cache" / "artifacts" / content_hash[:2] / content_hash
    assert not cached.exists()
    loaded = load_artifact(name, 1)
    assert loaded == payload and type(loaded) is bytes
    assert (cached / "data.bin").read_bytes() == payload
    served = artifact_folder(server, content_hash)
    aside = served.with_name(served.name + ".aside")
    os.rename(served, aside)
    try:
        assert head(server, content_hash) == 404
        assert load_artifact(name) == payload  # from the cache: the server has no copy now
    finally:
        os.rename(aside, served)
    assert head(server, content_hash) == 200
    assert temp_entries(server) == []
