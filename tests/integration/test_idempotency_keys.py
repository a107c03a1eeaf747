"""What keyed HTTP writes stand on, below HTTP, on both stores: claiming a key in
``mp_idempotency`` (``projections/idempotency.py``) and ``registry.atomic()``, one transaction
around a command and the answer stored beside it.

The HTTP behaviour itself (replays, 409/422, restarts, cut connections) is in
``tests/http/test_idempotency.py``.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import func, insert, select, update

from modelplane.backend.interface import PageRequest
from modelplane.backend.local import LocalBackend
from modelplane.projections import idempotency as keys
from modelplane.projections.projected_registry import open_registry
from modelplane.store_handle import Store

LEASE, TTL = 60, 3600


@pytest.fixture
def handle(store: str) -> Store:
    found = Store.current()
    keys.ensure_table(found.registry.engine)
    return found


def _claim(handle: Store, key: str = "k", fingerprint: str = "f" * 64) -> keys.Outcome:
    return keys.claim(handle.registry.engine, "alice", key, fingerprint, LEASE, TTL)


def _finish(handle: Store, claimed: keys.Outcome, body: bytes = b'{"ok": true}') -> None:
    assert isinstance(claimed, keys.Claimed)
    with handle.registry.engine.begin() as conn:
        assert keys.finish(conn, claimed, 201, body, "application/json", TTL)


def _age(handle: Store, key: str, **columns: datetime) -> None:
    """Move a row's lease or expiry (what time would do)."""
    with handle.registry.engine.begin() as conn:
        conn.execute(update(keys.keys).where(keys.keys.c.key == key).values(**columns))


def test_a_key_is_claimed_once_and_then_answers(handle: Store) -> None:
    first = _claim(handle)
    assert isinstance(first, keys.Claimed)
    assert isinstance(_claim(handle), keys.InProgress)
    assert isinstance(_claim(handle, fingerprint="0" * 64), keys.Reused)
    _finish(handle, first)
    assert _claim(handle) == keys.Answered(201, b'{"ok": true}', "application/json")
    assert isinstance(_claim(handle, fingerprint="0" * 64), keys.Reused)
    # another token's key of the same name is another key
    other = keys.claim(handle.registry.engine, "bob", "k", "0" * 64, LEASE, TTL)
    assert isinstance(other, keys.Claimed)


def test_a_released_key_is_claimed_again(handle: Store) -> None:
    first = _claim(handle)
    assert isinstance(first, keys.Claimed)
    keys.release(handle.registry.engine, first)
    assert isinstance(_claim(handle), keys.Claimed)


def test_a_lease_run_out_is_taken_over_and_the_old_claim_can_store_nothing(
    handle: Store,
) -> None:
    stale = _claim(handle)
    assert isinstance(stale, keys.Claimed)
    _age(handle, "k", lease_until=datetime.now(UTC) - timedelta(seconds=1))
    taken = _claim(handle)
    assert isinstance(taken, keys.Claimed) and taken.claim != stale.claim
    with handle.registry.engine.begin() as conn:
        assert not keys.finish(conn, stale, 201, b"late", None, TTL)
    keys.release(handle.registry.engine, stale)  # releases nothing of the new claim
    assert isinstance(_claim(handle), keys.InProgress)


def test_an_expired_key_is_a_new_request_whatever_it_was(handle: Store) -> None:
    _finish(handle, _claim(handle))
    _age(handle, "k", expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert isinstance(_claim(handle, fingerprint="0" * 64), keys.Claimed)


def test_expired_rows_are_purged_by_a_later_claim(
    handle: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(5):
        _finish(handle, _claim(handle, f"old-{n}"))
        _age(handle, f"old-{n}", expires_at=datetime.now(UTC) - timedelta(seconds=1))
    _finish(handle, _claim(handle, "kept"))
    monkeypatch.setattr(keys, "_next_purge", 0.0)  # this process purged already: due again
    assert isinstance(_claim(handle, "new"), keys.Claimed)
    with handle.registry.engine.connect() as conn:
        left = set(conn.execute(select(keys.keys.c.key)).scalars())
    assert left == {"kept", "new"}


def test_of_concurrent_claims_of_one_key_exactly_one_wins(handle: Store) -> None:
    outcomes: list[keys.Outcome] = []
    start = threading.Barrier(8)

    def claim() -> None:
        start.wait()
        outcomes.append(_claim(handle, "raced"))

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(type(o).__name__ for o in outcomes) == ["Claimed"] + ["InProgress"] * 7


def _versions(handle: Store, model: str) -> list[int]:
    backend = LocalBackend(handle, actor="tester")
    page = backend.list_model_versions(model, None, None, None, PageRequest())
    return sorted(v.number for v in page.items)


def _head(handle: Store) -> int:
    with handle.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(_events(handle))).scalar_one())


def _events(handle: Store):  # type: ignore[no-untyped-def]
    return handle.registry.recorder.events_record_cls.__table__  # type: ignore[attr-defined]


def test_atomic_commits_the_command_with_the_answer_and_reads_its_own_write(
    handle: Store,
) -> None:
    backend = LocalBackend(handle, actor="tester")
    backend.create_model("iris", {}, None)
    claimed = _claim(handle)
    assert isinstance(claimed, keys.Claimed)
    before = _head(handle)
    with handle.registry.atomic() as session:
        assert keys.hold(session, claimed, LEASE)
        # the use case reads the new version back: through this transaction, unseen outside
        created = backend.create_model_version("iris", None, None, None)
        assert created.number == 1
        assert _head(handle) == before  # another connection: nothing committed yet
        assert keys.finish(session, claimed, 201, created.id.bytes, None, TTL)
    assert _head(handle) > before
    assert _claim(handle) == keys.Answered(201, created.id.bytes, None)
    assert _versions(handle, "iris") == [1]


def test_a_failure_inside_atomic_keeps_nothing_and_leaves_no_stale_cache(
    handle: Store,
) -> None:
    backend = LocalBackend(handle, actor="tester")
    backend.create_model("iris", {}, None)
    before = _head(handle)
    with pytest.raises(RuntimeError, match="after the command"), handle.registry.atomic():
        assert backend.create_model_version("iris", None, None, None).number == 1
        raise RuntimeError("after the command")
    assert _head(handle) == before
    # the cached model must not remember the version that was rolled back: the next one is
    # number 1 again, and the log loads in a process that has no cache
    assert backend.create_model_version("iris", None, None, None).number == 1
    fresh = open_registry(handle.url)
    try:
        model_id = fresh.model_id_for_name("iris")
        assert model_id is not None
        assert _last_number(fresh, model_id) == 1
    finally:
        fresh.close()
        fresh.engine.dispose()


def test_a_lost_race_inside_atomic_re_runs_in_the_same_transaction(handle: Store) -> None:
    """The cached model is stale (another process appended to it), so the first attempt's
    append collides; the save was a SAVEPOINT, so the re-run appends in the same transaction
    (on PostgreSQL, a failed statement without one would abort the whole transaction), and
    what was written in it before the command commits too."""
    backend = LocalBackend(handle, actor="tester")
    backend.create_model("iris", {}, None)
    backend.create_model_version("iris", None, None, None)  # caches the model here
    other = open_registry(handle.url)  # another process, as far as the cache knows
    try:
        model_id = other.model_id_for_name("iris")
        assert model_id is not None
        other.create_version(model_id, actor="other")
    finally:
        other.close()
        other.engine.dispose()
    cache = handle.registry.repository.cache
    assert cache is not None
    cached: Any = cache.get(model_id)
    assert cached.last_number == 1  # stale: the log has version 2 already
    with handle.registry.atomic() as session:
        session.execute(insert(keys.keys).values(_row("before-the-race")))
        created = backend.create_model_version("iris", None, None, None)
    assert created.number == 3
    assert _versions(handle, "iris") == [1, 2, 3]
    assert isinstance(_claim(handle, "before-the-race"), keys.InProgress)
    reloaded = open_registry(handle.url)
    try:
        assert _last_number(reloaded, model_id) == 3
    finally:
        reloaded.close()
        reloaded.engine.dispose()


def _last_number(registry: Any, model_id: UUID) -> int:
    """The model's last version number, as that registry loads it from the log."""
    model: Any = registry.repository.get(model_id)
    return int(model.last_number)


def _row(key: str) -> dict[str, object]:
    now = datetime.now(UTC)
    return {
        "token": "alice",
        "key": key,
        "fingerprint": "f" * 64,
        "state": keys.RUNNING,
        "claim": "c" * 32,
        "lease_until": now + timedelta(seconds=LEASE),
        "created_at": now,
        "expires_at": now + timedelta(seconds=TTL),
    }
