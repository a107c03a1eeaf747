"""Many processes using a store nobody has opened before, all at once (SQLite and PostgreSQL).

First use creates the tables: the event log's (by the event-sourcing library) and the read
tables beside it. Every process that finds them missing tries to create them; without
serialisation one of them fails ("table modelplane_events already exists" on SQLite, a unique
violation on PostgreSQL's catalog). Each round starts from a fresh store, workers wait on a
barrier after their imports, and half write while half read, so a loser shows up as a crash.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from modelplane.client import Client
from modelplane.store_handle import close_all
from tests import workers
from tests.conftest import reset_postgres
from tests.resilience.test_concurrency import _run, _store_env

pytestmark = pytest.mark.slow

WORKERS = 8
ROUNDS = 4


def test_fresh_store_first_used_by_many_processes_at_once(
    store: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for round_ in range(ROUNDS):
        close_all()
        if store == "sqlite":
            monkeypatch.setenv("MODELPLANE_HOME", str(tmp_path / f"home{round_}"))
        else:
            reset_postgres(os.environ["MODELPLANE_STORE_URL"])
        env = _store_env()
        names = [f"m{round_}-{i}" for i in range(WORKERS // 2)]
        roles = [("write", name) for name in names] + [("read", "") for _ in names]
        got = _run(workers.first_use, [(env, role, name) for role, name in roles])
        assert Counter(r[2][0] for r in got) == {"write": WORKERS // 2, "read": WORKERS // 2}
        written = sorted(r[2][1] for r in got if r[2][0] == "write")
        assert written == sorted(names)
        for r in got:
            if r[2][0] == "read":  # a reader sees some of the writes, never a broken store
                assert 0 <= r[2][1] <= len(names)
        close_all()
        client = Client()
        assert sorted(m.name for m in client.list_models(size=100)) == sorted(names)
        assert len(client.list_events(limit=1000)) >= len(names)
        client.rebuild_projections()  # the log and the read tables agree
        assert sorted(m.name for m in client.list_models(size=100)) == sorted(names)
