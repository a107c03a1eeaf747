"""``replay --until X --into PATH`` against a server: the file is built here from the server's
log (``GET /log``, admin only) by the local replay code.

Per store (SQLite, PostgreSQL): a history is written through the server, then replayed into
local files through the CLI (remote mode, a fresh home) and the SDK. Each file is read with
the local SDK and must answer what the server answers with ``at=`` that position, and its
tables must equal those of a local replay of the server's own store.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from modelplane.backend import http as http_backend
from modelplane.backend.errors import AuthenticationError
from modelplane.backend.http import HttpBackend
from modelplane.backend.local import LocalBackend
from modelplane.client import Client
from modelplane.domain.errors import PermissionDeniedError, ValidationError
from modelplane.enums import ModelStages
from modelplane.projections.tables import read_tables
from modelplane.replay import replay as local_replay
from modelplane.store_handle import Store
from tests.servers import RunningServer

from .conftest import assert_error, call, log_length, make_token

MODELS = ("churn", "fraud")


@dataclass(frozen=True)
class History:
    """What the module wrote, and the positions the tests replay up to."""

    writer: str  # the write token
    middle: int  # the first event of a forced promotion (a replay widens it to its end)
    middle_end: int  # the last event of that transaction
    middle_time: datetime  # the timestamp of that transaction
    head: int


@pytest.fixture(scope="module")
def history(store_server: RunningServer) -> Iterator[History]:
    writer = make_token(store_server, "write", "writer")
    client = Client(HttpBackend(store_server.url, writer))
    client.create_model("churn", license="MIT", tags=["tabular"])
    client.create_model_version("churn", name="v1", description="first", tags=["a"])
    client.create_model_version("churn", name="v2")
    client.backend.log_model_version_metadata(
        client.get_model_version("churn", "v1").id, {"accuracy": 0.91, "nested": {"k": [1, 2]}}
    )
    client.update_model_version("churn", "v1", stage=ModelStages.PRODUCTION, reason="first")
    client.create_model("fraud")
    client.create_model_version("fraud")
    before = client.list_events(limit=10_000)[-1].position
    client.update_model_version(
        "churn", "v2", stage=ModelStages.PRODUCTION, force=True, reason="better"
    )
    forced = client.list_events(after=before, limit=50)
    middle_end = forced[-1].position
    assert len({e.timestamp for e in forced}) == 1 and len(forced) >= 2, forced
    # after the middle: a rename, edits, new versions, metadata, a deletion
    client.update_model("churn", name="churn_renamed", add_tags=["later"])
    client.update_model_version("churn_renamed", "v1", name="v1-old", add_tags=["b"])
    client.create_model_version("churn_renamed", name="v3")
    client.backend.log_model_version_metadata(
        client.get_model_version("churn_renamed", "v2").id, {"accuracy": 0.95}
    )
    client.delete_model("fraud", reason="gone")
    head = client.list_events(after=middle_end, limit=1000)[-1].position
    yield History(writer, forced[0].position, middle_end, forced[0].timestamp, head)
    http_backend.close_all()


@pytest.fixture
def remote_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This process's SDK has no store of its own: a fresh home, no store URL."""
    home = tmp_path / "client-home"
    monkeypatch.setenv("MODELPLANE_HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("MODELPLANE_STORE_URL", raising=False)
    return home


def cli(
    server: RunningServer, home: Path, token: str, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("MODELPLANE_") and k != "XDG_CONFIG_HOME"
    }
    env.update(server.env(token))
    env["MODELPLANE_HOME"] = str(home)
    env["XDG_CONFIG_HOME"] = str(home / "config")
    return subprocess.run(
        [sys.executable, "-m", "modelplane", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def file_client(path: Path) -> Client:
    """The local SDK reading a replay output (read role: nothing may be written to it)."""
    return Client(LocalBackend(Store(f"sqlite:///{path}"), "reader", role="read"))


def version_view(version: Any) -> dict[str, Any]:
    return {
        "id": version.id,
        "name": version.name,
        "number": version.number,
        "stage": version.stage,
        "description": version.description,
        "tags": sorted(version.tags),
        "model_id": version.model_id,
        # not model_name: read with at=, it is the model's name now, not then
        "metadata": {k: v.value for k, v in version.run_metadata.items()},
    }


def assert_answers_as_server_did(server: RunningServer, path: Path, position: int) -> None:
    """Every version of every model, read from the file, is what the server says at=position."""
    remote = Client(HttpBackend(server.url, server.admin_token))
    past = file_client(path)
    try:
        names = sorted(m.name for m in past.list_models(size=100).items)
        assert names == list(MODELS), names
        for name in names:
            numbers = [v.number for v in past.list_model_versions(name, size=100).items]
            assert numbers, name
            for number in numbers:
                here = past.get_model_version(name, number)
                there = remote.get_model_version(name, number, at=position)
                assert there.as_of == position
                assert version_view(here) == version_view(there), (name, number)
            for stage in (ModelStages.PRODUCTION, ModelStages.STAGING):
                held_here = _holder(past, name, stage)
                held_there = _holder(remote, name, stage, at=position)
                assert held_here == held_there, (name, stage)
    finally:
        past.backend.store.close()  # type: ignore[attr-defined]


def _holder(client: Client, name: str, stage: ModelStages, **at: Any) -> str | None:
    from modelplane.domain.errors import NotFoundError

    try:
        return client.get_model_version(name, stage, **at).name
    except NotFoundError:
        return None


def marker(path: Path) -> tuple[Any, ...]:
    with closing(sqlite3.connect(path)) as db:
        return tuple(db.execute("SELECT source, until, position, events FROM mp_replay").fetchone())


def tables(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every read table's rows, sorted (the marker is not a read table)."""
    with closing(sqlite3.connect(path)) as db:
        return {
            name: sorted(db.execute(f'SELECT * FROM "{name}"').fetchall(), key=repr)
            for name in read_tables.tables
        }


def test_the_cli_replays_the_servers_log_into_a_local_file(
    store_server: RunningServer, history: History, tmp_path: Path
) -> None:
    home = tmp_path / "cli-home"
    into = tmp_path / "out" / "then.db"
    result = cli(
        store_server, home, store_server.admin_token,
        "replay", "--until", str(history.middle), "--into", str(into),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"up to position {history.middle_end}" in result.stderr + result.stdout
    source, until, position, events = marker(into)
    assert (source, until, position) == (store_server.url, history.middle_end, history.middle_end)
    logged = Client(HttpBackend(store_server.url, history.writer)).list_events(limit=10_000)
    assert events == len([e for e in logged if e.position <= history.middle_end])
    assert not (home / "modelplane.db").exists()  # nothing local but the output
    assert_answers_as_server_did(store_server, into, history.middle_end)
    # as it was then: one model's production moved to v2, v1 archived, the rename not yet
    with closing(sqlite3.connect(into)) as db:
        rows = db.execute(
            "SELECT name, stage FROM mp_model_versions WHERE number <= 2 AND name LIKE 'v%' "
            "ORDER BY name"
        ).fetchall()
    assert rows == [("v1", "archived"), ("v2", "production")]

    # --overwrite rules as in local mode: refused without it, replaced with it
    again = cli(
        store_server, home, store_server.admin_token,
        "replay", "--until", str(history.head), "--into", str(into),
    )  # fmt: skip
    assert again.returncode != 0 and "--overwrite" in again.stderr, again.stderr
    assert marker(into)[2] == history.middle_end
    again = cli(
        store_server, home, store_server.admin_token,
        "replay", "--until", str(history.head), "--into", str(into), "--overwrite",
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert marker(into)[2] == history.head


def test_the_sdk_replays_up_to_a_position_or_a_time(
    store_server: RunningServer, history: History, tmp_path: Path, remote_home: Path
) -> None:
    client = Client(HttpBackend(store_server.url, store_server.admin_token))
    reports: list[tuple[int, int]] = []
    result = client.rebuild_projections(
        until=history.middle, into=tmp_path / "p.db", progress=lambda d, t: reports.append((d, t))
    )
    assert result.position == history.middle_end
    assert result.target == str(tmp_path / "p.db")
    assert reports[0] == (0, result.events) and reports[-1] == (result.events, result.events)
    at_time = client.rebuild_projections(until=history.middle_time, into=tmp_path / "t.db")
    assert (at_time.position, at_time.events) == (result.position, result.events)
    assert tables(tmp_path / "t.db") == tables(tmp_path / "p.db")
    assert_answers_as_server_did(store_server, tmp_path / "p.db", history.middle_end)

    whole = client.rebuild_projections(into=tmp_path / "all.db")
    assert whole.position >= history.head
    assert marker(tmp_path / "all.db")[1] is None  # no bound asked, as in local mode
    renamed = file_client(tmp_path / "all.db")
    try:
        assert renamed.get_model_version("churn_renamed", "v1-old").stage == ModelStages.ARCHIVED
        assert [m.name for m in renamed.list_models().items] == ["churn_renamed"]
    finally:
        renamed.backend.store.close()  # type: ignore[attr-defined]
    assert not (remote_home / "modelplane.db").exists()


def test_the_file_equals_a_local_replay_of_the_same_log(
    store_server: RunningServer, history: History, tmp_path: Path, remote_home: Path
) -> None:
    client = Client(HttpBackend(store_server.url, store_server.admin_token))
    remote = tmp_path / "remote.db"
    client.rebuild_projections(until=history.middle, into=remote)
    url = store_server.store_url or f"sqlite:///{store_server.home / 'modelplane.db'}"
    store = Store(url)
    try:
        here = local_replay(store, until=history.middle, into=tmp_path / "local.db")
    finally:
        store.close()
    assert here.position == history.middle_end
    assert tables(remote) == tables(tmp_path / "local.db")
    assert marker(remote)[1:] == marker(tmp_path / "local.db")[1:]


def test_only_an_admin_token_reads_the_log(
    store_server: RunningServer, history: History, tmp_path: Path, remote_home: Path
) -> None:
    tokens = {"write": history.writer, "read": make_token(store_server, "read")}
    before = log_length(store_server)
    for role, token in tokens.items():
        into = tmp_path / f"{role}.db"
        with pytest.raises(PermissionDeniedError, match="admin"):
            Client(HttpBackend(store_server.url, token)).rebuild_projections(
                until=history.middle, into=into
            )
        assert not into.exists() and not list(tmp_path.glob(f".{role}.db.*"))
        result = cli(
            store_server, tmp_path / "home", token,
            "replay", "--until", str(history.middle), "--into", str(into),
        )  # fmt: skip
        assert result.returncode != 0 and "admin role" in result.stderr, result.stderr
        assert "Traceback" not in result.stderr and not into.exists()
        assert_error(call(store_server, "GET", "/log", token), 403, "PermissionDeniedError")
    assert_error(call(store_server, "GET", "/log"), 401, "AuthenticationError")
    with pytest.raises(AuthenticationError):
        Client(HttpBackend(store_server.url, "mp_nobody_secret")).rebuild_projections(
            into=tmp_path / "nobody.db"
        )
    assert log_length(store_server) == before  # a read of the log appends nothing


def test_the_log_route_pages_whole_transactions(
    store_server: RunningServer, history: History
) -> None:
    admin = store_server.admin_token
    pages, after, bound = [], 0, None
    while True:
        params = {"after": after, "limit": 1, **({"until": bound} if bound else {})}
        response = call(store_server, "GET", "/log", admin, params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        bound = bound or body["position"]
        assert body["position"] == bound
        if not body["events"]:
            assert body["remaining"] == 0
            break
        assert body["remaining"] >= len(body["events"])
        pages.append([e["position"] for e in body["events"]])
        after = body["events"][-1]["position"]
    positions = [p for page in pages for p in page]
    events = Client(HttpBackend(store_server.url, admin)).list_events(limit=bound)
    assert positions == [e.position for e in events]
    # the forced promotion is one transaction: its events came in one page
    assert list(range(history.middle, history.middle_end + 1)) in pages
    # the bound: a position inside a transaction is widened to its end; a time to its last one
    for until in (str(history.middle), history.middle_time.isoformat()):
        response = call(store_server, "GET", "/log", admin, params={"until": until, "limit": 1})
        assert response.json()["position"] == history.middle_end


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"until": "yesterday"}, 400),
        ({"until": str(2**63)}, 400),
        ({"until": "0001-01-01T00:00:00+05:00"}, 400),
        ({"after": -1}, 422),
        ({"after": 2**63}, 422),
        ({"limit": 0}, 422),
        ({"limit": 10_001}, 422),
        ({"limit": "many"}, 422),
    ],
)
def test_bad_log_parameters_are_typed_errors(
    store_server: RunningServer, history: History, params: dict[str, Any], status: int
) -> None:
    assert_error(call(store_server, "GET", "/log", store_server.admin_token, params=params), status)


def test_a_bad_target_is_refused_before_anything_is_written(
    store_server: RunningServer, history: History, tmp_path: Path, remote_home: Path
) -> None:
    client = Client(HttpBackend(store_server.url, store_server.admin_token))
    precious = tmp_path / "notes.db"
    precious.write_bytes(b"not a replay")
    with pytest.raises(ValidationError, match="not a replay output"):
        client.rebuild_projections(until=history.middle, into=precious, overwrite=True)
    assert precious.read_bytes() == b"not a replay"
    with pytest.raises(ValidationError, match="directory"):
        client.rebuild_projections(into=tmp_path)
    # the live tables of the server are rebuilt on the server, as before
    assert client.rebuild_projections().target == "live read tables"
