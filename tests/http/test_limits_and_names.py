"""Body limits and hostile names over HTTP, against real servers on SQLite and PostgreSQL.

Bodies over ``MODELPLANE_MAX_BODY_BYTES`` (JSON) or ``MODELPLANE_MAX_UPLOAD_BYTES`` (artifact
uploads) get a 413 JSON error whether they declare a length or come chunked, and append
nothing. Names follow the core's rules whichever way they arrive: the server, the remote SDK
and the CLI in remote mode accept and refuse exactly what the local SDK and CLI do, with the
same exception types and error lines; what is accepted round-trips as text (NFC, emoji,
right-to-left, markup), in bodies and in path segments.
"""

from __future__ import annotations

import os
import subprocess
import sys
import unicodedata
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from modelplane.backend import http as http_backend
from modelplane.backend.errors import PayloadTooLargeError
from modelplane.domain.errors import ValidationError
from modelplane.domain.names import MAX_NAME_LENGTH
from modelplane.store_handle import close_all
from tests.servers import RunningServer

from .conftest import API, TIMEOUT, artifact_folder, assert_error, bearer, make_token, started

BODY_LIMIT = 150_000
UPLOAD_LIMIT = 300_000
TAR = {"Content-Type": "application/x-tar"}


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def limited(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningServer]:
    """A server with small limits: a 100,000-character ASCII name fits its body limit, the
    same name in emoji (4 bytes each) does not."""
    limits = {
        "MODELPLANE_MAX_BODY_BYTES": str(BODY_LIMIT),
        "MODELPLANE_MAX_UPLOAD_BYTES": str(UPLOAD_LIMIT),
    }
    with started(tmp_path_factory, request.param, extra_env=limits) as running:
        yield running


Api = Callable[..., httpx.Response]


@pytest.fixture(scope="module")
def api(limited: RunningServer) -> Iterator[Api]:
    """``call`` on one kept-alive connection (a new client per request costs ~50 ms)."""
    with httpx.Client(base_url=limited.url + API, timeout=TIMEOUT) as client:

        def send(method: str, path: str, token: str | None = None, **kwargs: Any) -> Any:
            headers = dict(kwargs.pop("headers", None) or {})
            headers.update(bearer(token or limited.admin_token))
            return client.request(method, path, headers=headers, **kwargs)

        yield send


def log_count(api: Api) -> int:
    """``log_length`` over the kept-alive connection."""
    count, after = 0, 0
    while True:
        response = api("GET", "/events", params={"after": after, "limit": 10_000})
        assert response.status_code == 200, response.text
        events = response.json()
        count += len(events)
        if len(events) < 10_000:
            return count
        after = events[-1]["position"]


def chunks(payload: bytes, size: int = 16_384) -> Iterator[bytes]:
    """A body httpx sends chunked, without a Content-Length."""
    for start in range(0, len(payload), size):
        yield payload[start : start + size]


def temp_entries(server: RunningServer) -> list[str]:
    temp = server.home / "artifacts" / ".tmp"
    return sorted(os.listdir(temp)) if temp.is_dir() else []


# ---------------------------------------------------------------- limits


def test_json_bodies_over_the_limit_get_413(limited: RunningServer, api: Api) -> None:
    events = log_count(api)
    name = f"big-{uuid.uuid4().hex[:8]}"
    over = f'{{"name": "{name}", "description": "{"d" * BODY_LIMIT}"}}'.encode()
    declared = api(
        "POST",
        "/models",
        limited.admin_token,
        content=over,
        headers={"Content-Type": "application/json"},
    )
    message = assert_error(declared, 413, "PayloadTooLargeError")["message"]
    assert "MODELPLANE_MAX_BODY_BYTES" in message and str(BODY_LIMIT) in message
    streamed = api(
        "POST",
        "/models",
        limited.admin_token,
        content=chunks(over),
        headers={"Content-Type": "application/json"},
    )
    assert "content-length" not in streamed.request.headers
    assert streamed.request.headers["transfer-encoding"] == "chunked"
    assert_error(streamed, 413, "PayloadTooLargeError")
    # an upload-sized JSON body does not get the upload limit
    between = over.replace(b'"d', b'"' + b"d" * (UPLOAD_LIMIT - BODY_LIMIT - 10_000), 1)
    assert BODY_LIMIT < len(between) < UPLOAD_LIMIT
    response = api(
        "PUT",
        f"/models/{name}",
        limited.admin_token,
        content=between,
        headers={"Content-Type": "application/json"},
    )
    assert_error(response, 413, "PayloadTooLargeError")
    assert log_count(api) == events
    assert api("GET", f"/models/{name}", limited.admin_token).status_code == 404
    # the same bodies under the limit go through, chunked or not
    under = f'{{"name": "{name}", "description": "short"}}'.encode()
    response = api(
        "POST",
        "/models",
        limited.admin_token,
        content=chunks(under, 7),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["name"] == name


def test_uploads_over_the_limit_get_413(limited: RunningServer, api: Api, tmp_path: Path) -> None:
    events = log_count(api)
    content_hash = "ab" * 32
    payload = os.urandom(UPLOAD_LIMIT + 1)
    for body in (payload, chunks(payload)):
        response = api(
            "PUT",
            f"/artifact_store/{content_hash}",
            limited.admin_token,
            content=body,
            headers=TAR,
        )
        message = assert_error(response, 413, "PayloadTooLargeError")["message"]
        assert "MODELPLANE_MAX_UPLOAD_BYTES" in message
        assert not artifact_folder(limited, content_hash).exists()
        assert temp_entries(limited) == []
    # an upload between the two limits is not held to the JSON one
    from modelplane.artifacts.content_store import ArtifactStore
    from modelplane.artifacts.transfer import pack

    store = ArtifactStore(tmp_path / "store")
    stored = store.save(os.urandom(BODY_LIMIT + 20_000))
    tar = b"".join(pack(store, stored.content_hash))
    assert BODY_LIMIT < len(tar) < UPLOAD_LIMIT
    response = api(
        "PUT",
        f"/artifact_store/{stored.content_hash}",
        limited.admin_token,
        content=chunks(tar),
        headers=TAR,
    )
    assert response.status_code == 204, response.text
    assert artifact_folder(limited, stored.content_hash).is_dir()
    assert log_count(api) == events


# ---------------------------------------------------------------- names


def accepted_names(tag: str) -> dict[str, str]:
    """Names the core accepts, and the name it stores for each."""
    names = {
        f"e\u0301cole-{tag}": f"\u00e9cole-{tag}",  # decomposed é: stored composed (NFC)
        f"\u212b-{tag}": f"\u00c5-{tag}",  # the Ångström sign is Å under NFC
        f"\ufb01le-{tag}": f"\ufb01le-{tag}",  # the fi ligature: NFKC would fold it, NFC not
        f"\U0001f680 rocket-{tag}": f"\U0001f680 rocket-{tag}",
        f"\u0646\u0645\u0648\u0630\u062c-{tag}": f"\u0646\u0645\u0648\u0630\u062c-{tag}",
        f"\u05de\u05d5\u05d3\u05dc {tag}": f"\u05de\u05d5\u05d3\u05dc {tag}",
        f"<script>alert(1)<\\script>-{tag}": f"<script>alert(1)<\\script>-{tag}",
        f"<img src=x onerror=alert(1)> &amp; \"q\" 'q'-{tag}": (
            f"<img src=x onerror=alert(1)> &amp; \"q\" 'q'-{tag}"
        ),
        f"%2e%2e%2F-{tag}": f"%2e%2e%2F-{tag}",
        f"..-{tag}": f"..-{tag}",
        f"{'x' * (MAX_NAME_LENGTH - len(tag) - 1)}-{tag}": (
            f"{'x' * (MAX_NAME_LENGTH - len(tag) - 1)}-{tag}"
        ),
    }
    assert all(unicodedata.is_normalized("NFC", stored) for stored in names.values())
    return names


def refused_names(tag: str) -> list[str]:
    """Names the core refuses with ValidationError (a body that fits the limit)."""
    return [
        f"a/b-{tag}",
        f"/{tag}",
        f"nul\x00-{tag}",
        f"tab\t-{tag}",
        f"newline\n-{tag}",
        f"del\x7f-{tag}",
        f"bell\x07-{tag}",
        f"zero\u200bwidth-{tag}",
        f"rtl\u202eoverride-{tag}",
        f"line\u2028sep-{tag}",
        f"\U0001f469\u200d\U0001f680-{tag}",  # the ZWJ inside an emoji sequence is Cf
        "",
        "   ",
        f" lead-{tag}",
        str(uuid.uuid5(uuid.NAMESPACE_URL, tag)),  # shaped as an id
        "x" * 100_000,
        "x" * (MAX_NAME_LENGTH + 1),
    ]


def test_names_over_http_follow_the_core(limited: RunningServer, api: Api) -> None:
    tag = uuid.uuid4().hex[:8]
    token = limited.admin_token
    for sent, stored in accepted_names(tag).items():
        before = log_count(api)
        response = api("POST", "/models", token, json={"name": sent})
        assert response.status_code == 201, (sent, response.text)
        assert response.headers["content-type"].startswith("application/json")
        model = response.json()
        assert model["name"] == stored
        assert log_count(api) > before
        # found by its name as sent and as stored, as one path segment
        for spelling in {sent, stored}:
            found = api("GET", f"/models/{quote(spelling, safe='')}", token)
            assert found.status_code == 200, (spelling, found.text)
            assert (found.json()["id"], found.json()["name"]) == (model["id"], stored)
        again = api("POST", "/models", token, json={"name": stored})
        assert_error(again, 409, "EntityExistsError")
        # the version routes under the name
        created = api("POST", "/model_versions", token, json={"model": sent})
        assert created.status_code == 201, created.text
        segment = quote(sent, safe="")
        for selector in ("1", "latest", created.json()["id"]):
            version = api("GET", f"/models/{segment}/model_versions/{selector}", token)
            assert version.status_code == 200, (sent, selector, version.text)
            assert version.json()["id"] == created.json()["id"]
        listed = api("GET", f"/models/{segment}/versions", token)
        if listed.status_code != 404:  # the listing route, where the API has one
            assert listed.status_code == 200, listed.text
    before = log_count(api)
    for name in refused_names(tag):
        response = api("POST", "/models", token, json={"name": name})
        assert_error(response, 400, "ValidationError")
        if name and "\x00" not in name:  # NUL in a lookup: test_lookups_with_nul
            created = api("POST", "/model_versions", token, json={"model": name})
            assert_error(created, 404 if len(name) < 1000 else created.status_code)
        segment = quote(name, safe="")
        if name.strip() and len(segment) < 4000:
            for path in (f"/models/{segment}", f"/models/{segment}/model_versions/latest"):
                found = api("GET", path, token)
                assert found.status_code in (400, 404), (path[:60], found.text[:300])
                assert_error(found, found.status_code)
    # lone surrogates cannot be stored: JSON can carry them escaped
    lone = f'{{"name": "half\\ud800-{tag}"}}'.encode()
    response = api(
        "POST",
        "/models",
        token,
        content=lone,
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code in (400, 422), response.text
    assert_error(response, response.status_code)
    # 100,000 emoji: over the body limit before any name rule is read
    response = api("POST", "/models", token, json={"name": "\U0001f680" * 100_000})
    assert_error(response, 413, "PayloadTooLargeError")
    assert log_count(api) == before


#: lookups that take a name from the query string or the body rather than the path
NUL_LOOKUPS = [
    ("GET", "/models", {"params": {"name": "nul\x00"}}),
    ("GET", "/models", {"params": {"tag": "nul\x00"}}),
    ("GET", "/artifact_versions", {"params": {"name": "nul\x00"}}),
    ("GET", "/runs", {"params": {"model": "nul\x00"}}),
    ("GET", "/events", {"params": {"model": "nul\x00"}}),
    ("POST", "/model_versions", {"json": {"model": "nul\x00"}}),
]


def test_path_segments_with_nul_or_bad_utf8_are_refused(limited: RunningServer, api: Api) -> None:
    """A name no one can hold is refused (400) or not found, never a driver error (500)."""
    token = limited.admin_token
    model = f"holder-{uuid.uuid4().hex[:6]}"
    assert api("POST", "/models", token, json={"name": model}).status_code == 201
    before = log_count(api)
    for bad in ("nul%00", "%00", "%ff", "%ed%a0%80", "x%c3", "%00%2F..%2F"):
        for method, path in (
            ("GET", f"/models/{bad}"),
            ("GET", f"/models/{bad}/model_versions/1"),
            ("GET", f"/models/{model}/model_versions/{bad}"),
            ("GET", f"/models/{bad}/stage_history"),
            ("GET", f"/models/{bad}/lives"),
            ("GET", f"/models/{bad}/name_history"),
            ("DELETE", f"/models/{bad}"),
            ("GET", f"/artifact_versions/{bad}"),
            ("GET", f"/runs/{bad}"),
            ("DELETE", f"/tokens/{bad}"),
        ):
            response = api(method, path, token)
            assert response.status_code in (400, 404), (method, path, response.text[:200])
            assert_error(response, response.status_code)
    assert log_count(api) == before


def test_query_and_body_lookups_with_nul(limited: RunningServer, api: Api) -> None:
    """No name holds a NUL, and PostgreSQL text cannot: a lookup by one is a typed refusal on
    both stores (``normalise_name`` refuses it before any query), never the driver's error."""
    before = log_count(api)
    failures = []
    for method, path, kwargs in NUL_LOOKUPS:
        response = api(method, path, limited.admin_token, **kwargs)
        if response.status_code != 400:
            failures.append((method, path, response.status_code))
    assert failures == []
    assert log_count(api) == before


def test_a_slash_stays_inside_one_path_segment(limited: RunningServer, api: Api) -> None:
    """``a/b`` cannot be a model name (the core refuses '/'), but asked for as ``a%2Fb`` it
    reaches the routes as one name, ``a/b``: a typed 404 for it, not a missing route."""
    token = limited.admin_token
    before = log_count(api)
    name = f"a/b-{uuid.uuid4().hex[:6]}"
    segment = quote(name, safe="")
    assert "%2F" in segment
    for path in (
        f"/models/{segment}",
        f"/models/{segment}/model_versions/1",
        f"/models/{segment}/model_versions/latest",
        f"/models/{segment}/stage_history",
    ):
        error = assert_error(api("GET", path, token), 404, "NotFoundError")
        assert name in error["message"], (path, error)
    for path in (f"/models/{segment}", f"/models/{segment}/stage_history"):
        unencoded = api("GET", path.replace(segment, name), token)
        assert_error(unencoded, 404)
    response = api("PUT", f"/models/{segment}", token, json={"description": "x"})
    assert_error(response, 404, "NotFoundError")
    assert log_count(api) == before


# ---------------------------------------------------------------- the SDKs agree


def outcome(create: Any, name: str) -> tuple[str, str]:
    """('ok', stored name) or (exception class, message) of one create_model."""
    try:
        return "ok", create(name=name).name
    except Exception as error:  # the comparison is the point: any class is recorded
        return type(error).__name__, str(error)


def test_remote_sdk_raises_what_the_local_sdk_raises(
    limited: RunningServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from modelplane.client import Client

    tag = uuid.uuid4().hex[:8]
    names = [*accepted_names(tag), *refused_names(tag)]
    monkeypatch.delenv("MODELPLANE_STORE_URL", raising=False)
    monkeypatch.delenv("MODELPLANE_SERVER_URL", raising=False)
    monkeypatch.delenv("MODELPLANE_API_TOKEN", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("MODELPLANE_HOME", str(tmp_path / "local-home"))
    monkeypatch.setenv("MODELPLANE_ACTOR", "names")
    close_all()
    local = {name: outcome(Client().create_model, name) for name in names}
    close_all()
    monkeypatch.setenv("MODELPLANE_HOME", str(tmp_path / "client-home"))
    monkeypatch.setenv("MODELPLANE_SERVER_URL", limited.url)
    monkeypatch.setenv("MODELPLANE_API_TOKEN", make_token(limited, "write"))
    try:
        remote = {name: outcome(Client().create_model, name) for name in names}
        emoji = "\U0001f680" * 100_000
        with pytest.raises(PayloadTooLargeError) as too_large:
            Client().create_model(name=emoji)
        assert isinstance(too_large.value, ValidationError)  # caught where local code catches
    finally:
        http_backend.close_all()
        close_all()
    for name in names:
        assert remote[name] == local[name], (repr(name[:60]), local[name], remote[name])
    for sent, stored in accepted_names(tag).items():
        assert local[sent] == ("ok", stored)
    for name in refused_names(tag):
        assert local[name][0] == "ValidationError", (repr(name[:60]), local[name])


def test_cli_in_remote_mode_answers_as_in_local_mode(
    limited: RunningServer, api: Api, tmp_path: Path
) -> None:
    if not limited.store_url:
        pytest.skip("the CLI's side is one code path for both stores: run on PostgreSQL")
    tag = uuid.uuid4().hex[:8]
    names = [
        f"e\u0301cole-{tag}",
        f"<script>alert(1)<\\script>-{tag}",
        f"a/b-{tag}",
        f"rtl\u202eoverride-{tag}",
        "x" * 100_000,
    ]
    base = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("MODELPLANE_") or key == "MODELPLANE_REQUIRE_POSTGRES"
    }
    base |= {"COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    local_env = base | {"MODELPLANE_HOME": str(tmp_path / "local"), "MODELPLANE_ACTOR": "cli"}
    remote_env = base | {
        "MODELPLANE_HOME": str(tmp_path / "remote"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        **limited.env(make_token(limited, "write")),
    }
    before = log_count(api)
    runs = {
        (mode, name): subprocess.Popen(
            [sys.executable, "-m", "modelplane", "model", "register", name],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for mode, env in (("local", local_env), ("remote", remote_env))
        for name in names
    }
    results = {}
    for key, process in runs.items():
        out, err = process.communicate(timeout=120)
        assert "Traceback" not in out + err, (key, err)
        results[key] = (process.returncode, [line for line in err.splitlines() if line.strip()])
    for name in names:
        local, remote = results[("local", name)], results[("remote", name)]
        assert remote == local, (repr(name[:60]), local, remote)
    assert results[("local", names[0])][0] == 0
    for name in names[2:]:
        code, lines = results[("local", name)]
        assert code == 1 and len(lines) == 1 and lines[0].startswith("Error: "), (name, lines)
    assert log_count(api) > before  # the accepted names were registered on the server
    shown = api("GET", f"/models/{quote(names[1], safe='')}", limited.admin_token)
    assert shown.status_code == 200 and shown.json()["name"] == names[1]
