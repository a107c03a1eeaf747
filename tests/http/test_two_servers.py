"""Two servers on two ports over one PostgreSQL database: a team's scaled-out registry.

Nothing a server answers may depend on which one a client reached: a token made through one
works on the other and a revocation holds on both from the next request; a write through one
is read back through the other at once (the read tables commit with the events); of two
conditional promotions racing through the two servers from the same state, exactly one wins;
a stream opened on one delivers what is written through the other.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import create_database, drop_database
from tests.servers import RunningServer, running_server

from .conftest import call, make_token, revoke_token
from .test_event_stream import head, stream


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningServer, RunningServer]]:
    """Two servers sharing one database and one home (their artifact folder, as a shared
    volume would be; the second finds the admin token the first made)."""
    name, url = create_database()
    home: Path = tmp_path_factory.mktemp("two-servers") / "home"
    home.mkdir()
    try:
        with running_server(home, url) as first, running_server(home, url) as second:
            assert first.url != second.url
            yield first, second
    finally:
        drop_database(name)


def _version(server: RunningServer, token: str, model: str) -> dict[str, str]:
    created = call(server, "POST", "/model_versions", token, json={"model": model})
    assert created.status_code == 201, created.text
    return dict(created.json())


def test_a_token_made_on_one_server_works_on_the_other_until_revoked_there(
    pair: tuple[RunningServer, RunningServer],
) -> None:
    first, second = pair
    name = f"ci-{uuid.uuid4().hex[:8]}"
    token = make_token(first, "write", name)
    assert call(second, "GET", "/whoami", token).json() == {"name": name, "role": "write"}
    revoke_token(second, name)
    for server in pair:
        assert call(server, "GET", "/whoami", token).status_code == 401


def test_a_write_through_one_is_read_through_the_other_at_once(
    pair: tuple[RunningServer, RunningServer],
) -> None:
    first, second = pair
    token = make_token(first, "write")
    for i in range(20):
        model = f"rw-{uuid.uuid4().hex[:8]}"
        writer, reader = (first, second) if i % 2 else (second, first)
        assert call(writer, "POST", "/models", token, json={"name": model}).status_code == 201
        version = _version(writer, token, model)
        read = call(reader, "GET", f"/models/{model}/model_versions/latest", token)
        assert read.status_code == 200, read.text
        assert read.json()["id"] == version["id"]
    events = [call(s, "GET", "/events", token, params={"limit": 10_000}).json() for s in pair]
    assert events[0] == events[1]


def _race(
    pair: tuple[RunningServer, RunningServer],
    token: str,
    holder_id: str,
    candidates: list[dict[str, str]],
) -> list[int]:
    """Promote candidate i through server i, both released at once, each expecting
    ``holder_id``: their statuses."""
    barrier = threading.Barrier(len(candidates))
    statuses = [0] * len(candidates)

    def promote(i: int) -> None:
        body = {"stage": "production", "force": True, "expected_holder": holder_id}
        barrier.wait(timeout=30)
        path = f"/model_versions/{candidates[i]['id']}"
        statuses[i] = call(pair[i], "PUT", path, token, json=body).status_code

    threads = [threading.Thread(target=promote, args=(i,)) for i in range(len(candidates))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return statuses


def test_racing_conditional_promotions_through_both_servers_one_wins(
    pair: tuple[RunningServer, RunningServer],
) -> None:
    token = make_token(pair[0], "write")
    for _ in range(5):
        model = f"race-{uuid.uuid4().hex[:8]}"
        assert call(pair[0], "POST", "/models", token, json={"name": model}).status_code == 201
        holder = _version(pair[0], token, model)
        promoted = call(
            pair[0], "PUT", f"/model_versions/{holder['id']}", token, json={"stage": "production"}
        )
        assert promoted.status_code == 200, promoted.text
        candidates = [_version(pair[i % 2], token, model) for i in range(2)]
        statuses = _race(pair, token, holder["id"], candidates)
        assert sorted(statuses) == [200, 412], statuses
        history = call(pair[1], "GET", f"/models/{model}/stage_history", token).json()
        into_production = [h for h in history if h["stage"] == "production"]
        assert len(into_production) == 2, history  # the first holder, then one winner


def test_a_stream_on_one_server_delivers_writes_made_through_the_other(
    pair: tuple[RunningServer, RunningServer],
) -> None:
    first, second = pair
    token = make_token(first, "write")
    start = head(first)
    model = f"stream-{uuid.uuid4().hex[:8]}"
    with stream(second, token, after=start) as opened:
        assert call(first, "POST", "/models", token, json={"name": model}).status_code == 201
        _version(first, token, model)
        expected = call(
            first, "GET", "/events", token, params={"after": start, "limit": 10_000}
        ).json()
        got = opened.events(len(expected))
    assert [e["position"] for e in got] == [e["position"] for e in expected]
    assert all(isinstance(e["position"], int) for e in got)
