"""Several OS processes moving one alias at once (SQLite and PostgreSQL): the model holds
the alias, so every move is checked against the holder the log has, and the history is one
unbroken chain, each move naming the holder it took the alias from."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from modelplane.client import Client
from modelplane.store_handle import Store, close_all
from tests import workers
from tests.projection_tables import dump_tables
from tests.resilience import alias_workers

pytestmark = pytest.mark.slow

WORKERS = 6
MOVES = 5
TIMEOUT = 300


def _dump() -> dict[str, list[tuple[Any, ...]]]:
    with Store.current().engine.connect() as conn:
        return dump_tables(conn)


def test_concurrent_alias_moves_form_one_chain(store: str) -> None:
    client = Client()
    client.create_model("race")
    names = [client.create_model_version("race", name=f"v{i}").name for i in range(WORKERS)]
    close_all()  # the workers open their own connections
    env = workers.store_env()
    got = workers.race(
        workers.context(),
        alias_workers.move_alias,
        [(env, "race", name, MOVES) for name in names],
        TIMEOUT,
    )
    assert all(r[1] == "ok" for r in got), got

    client = Client()
    history = client.get_alias_history("race", alias="champion")
    assert all(a.position < b.position for a, b in itertools.pairwise(history))
    assert history[0].previous_version_id is None
    for before, after in itertools.pairwise(history):
        # each move took the alias from the version the previous move gave it to
        assert after.previous_version_id == before.version_id
        assert after.version_id != before.version_id
    holder = client.get_model_version_by_alias("race", "champion")
    assert holder.id == history[-1].version_id
    assert client.get_model("race").aliases == {"champion": holder.number}
    moved_to = {h.version_id for h in history}
    assert len(moved_to) == WORKERS  # every worker's version held it at some point

    close_all()
    live = _dump()
    Client().rebuild_projections()
    assert _dump() == live
