"""Conditional promotion across OS processes: the check and the append are one unit.

Every worker has the model in its cache (it wrote to it before the race) and promotes a
different version with the same ``expected_holder``. Only one promotion can have seen the
stage as expected when it appended; the others lose the optimistic-concurrency race, re-run
on the log's state and are refused with ``PreconditionFailedError`` naming the winner.
"""

from __future__ import annotations

import os
import subprocess
import sys
import traceback
from collections import Counter
from typing import Any

import pytest

from modelplane.client import Client
from modelplane.store_handle import close_all
from tests import workers

pytestmark = pytest.mark.slow

WORKERS = 8
TIMEOUT = 300
CTX = workers.context()


def promote_if(
    env: dict[str, str],
    model: str,
    version: str,
    expected: str,
    barrier: Any,
    results: Any,
) -> None:
    """Cache the model (a write), wait for the others, promote ``version`` into production
    only if ``expected`` holds it; report the outcome."""
    try:
        from modelplane.exceptions import PreconditionFailedError

        workers.use_store_env(env)
        client = Client()
        client.update_model_version(model, version, add_tags=["ready"])  # the model is cached
        barrier.wait(timeout=TIMEOUT)
        try:
            client.update_model_version(
                model, version, stage="production", force=True, expected_holder=expected
            )
        except PreconditionFailedError as error:
            results.put((version, "stale", (error.holder, str(error))))
        else:
            results.put((version, "ok", None))
    except BaseException:
        barrier.abort()
        results.put((version, "crash", traceback.format_exc()))


def _race(model: str, names: list[str], expected: str) -> list[tuple[Any, ...]]:
    env = workers.store_env()
    close_all()  # the workers open their own connections
    return workers.race(CTX, promote_if, [(env, model, name, expected) for name in names], TIMEOUT)


@pytest.mark.parametrize("start", ["empty", "held"])
def test_one_of_many_conditional_promotions_wins(store: str, start: str) -> None:
    model = f"cond-{start}"
    client = Client()
    client.create_model(model)
    names = [client.create_model_version(model, name=f"v{i}").name for i in range(WORKERS + 1)]
    first, racers = names[0], names[1:]
    if start == "held":
        client.update_model_version(model, first, stage="production")
    expected = first if start == "held" else "none"
    moves_before = len(client.get_stage_history(model))
    events_before = len(client.list_events(model=model, limit=10_000))

    got = _race(model, racers, expected)

    outcomes = Counter(r[1] for r in got)
    assert outcomes == {"ok": 1, "stale": WORKERS - 1}, got
    winner = next(r[0] for r in got if r[1] == "ok")
    for _, _, (holder, message) in (r for r in got if r[1] == "stale"):
        assert holder == winner and f"'{winner}'" in message
    client = Client()
    assert client.get_model_version(model, "production").name == winner
    history = client.get_stage_history(model)[moves_before:]
    moves = [(h.version, str(h.stage)) for h in history]
    if start == "held":  # one move: the winner in, the expected holder archived by it
        assert moves == [(first, "archived"), (winner, "production")]
    else:
        assert moves == [(winner, "production")]
    events = client.list_events(model=model, limit=10_000)[events_before:]
    stage_events = [e for e in events if e.type == "Model.StageChanged"]
    assert len(stage_events) == len(history)
    tagged = [e for e in events if e.type == "ModelVersion.Updated"]
    assert len(tagged) == WORKERS  # every worker's warm-up write, nothing else


def test_a_process_whose_cache_is_behind_is_not_refused(store: str) -> None:
    """This process cached the model with '1' in production; another process (the CLI)
    promotes 'rc'. Promoting here on the condition 'rc' must succeed: a refusal checked on
    the cached copy is checked again on the log."""
    client = Client()
    client.create_model("behind")
    for name in (None, "rc", None):
        client.create_model_version("behind", name=name)
    client.update_model_version("behind", "1", stage="production")  # cached here
    moved = subprocess.run(
        [
            *(sys.executable, "-m", "modelplane", "model", "version", "update", "behind", "rc"),
            *("--stage", "production", "--force", "--expect-holder", "1"),
        ],
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert moved.returncode == 0, moved.stderr
    promoted = client.update_model_version(
        "behind", "3", stage="production", force=True, expected_holder="rc"
    )
    assert promoted.stage.value == "production"
    assert [h.version for h in client.get_stage_history("behind")] == ["1", "1", "rc", "rc", "3"]
