"""API tokens on both stores: the use cases of ``modelplane.backend.tokens`` over a real store.

Creating and revoking are events (the log holds the digest, never the secret); a request is
authenticated by reading the ``mp_api_tokens`` row of the token's id, so a revocation holds
from the next call, and a rebuild from the log gives the same rows.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, select

from modelplane.backend import tokens
from modelplane.domain.errors import EntityExistsError, NotFoundError, ValidationError
from modelplane.projections.queries.tokens import has_tokens, token_row, token_rows
from modelplane.projections.runner import rebuild
from modelplane.projections.tables import api_tokens
from modelplane.replay import replay
from modelplane.store_handle import Store
from tests.projection_tables import dump_tables


@pytest.fixture
def handle(store: str) -> Iterator[Store]:
    yield Store.current()


def _stored_bytes(handle: Store) -> list[bytes]:
    """Every stored event's and snapshot's state, raw, as the database holds it."""
    registry = handle.registry
    tables = [registry.event_log.table]
    if registry.snapshots is not None:
        tables += registry.snapshots.recorder.tables  # type: ignore[attr-defined]
    found: list[bytes] = []
    with registry.engine.connect() as conn:
        for table in tables:
            found += [bytes(state) for state in conn.execute(select(table.c.state)).scalars()]
    return found


def _tokens_table(handle: Store) -> list[tuple[Any, ...]]:
    with handle.read() as conn:
        return sorted((tuple(row) for row in conn.execute(select(api_tokens))), key=lambda r: r[-1])


def test_create_list_revoke_authenticate(handle: Store) -> None:
    with handle.read() as conn:
        assert not has_tokens(conn)
    ci = tokens.create_token(handle, "ci", "write", "alice")
    ops = tokens.create_token(handle, "ops", "admin", "alice")
    assert (ci.name, ci.role) == ("ci", "write")
    assert ci.token.startswith(tokens.TOKEN_PREFIX) and len(ci.token) == 3 + 32 + 1 + 43
    assert tokens.authenticate(handle, ci.token) == ("ci", "write")
    assert tokens.authenticate(handle, ops.token) == ("ops", "admin")

    listed = tokens.list_tokens(handle)
    assert [(t.name, t.role, t.created_by, t.revoked) for t in listed] == [
        ("ops", "admin", "alice", None),
        ("ci", "write", "alice", None),
    ]
    assert listed[0].created > listed[1].created

    tokens.revoke_token(handle, "ci", "bob")
    assert tokens.authenticate(handle, ci.token) is None  # the very next call
    assert tokens.authenticate(handle, ops.token) == ("ops", "admin")
    revoked = {t.name: t for t in tokens.list_tokens(handle)}["ci"]
    assert revoked.revoked is not None and revoked.revoked_by == "bob"
    assert revoked.revoked >= revoked.created
    with handle.read() as conn:
        assert has_tokens(conn)
    tokens.revoke_token(handle, "ops", "bob")
    with handle.read() as conn:
        assert not has_tokens(conn)
        assert len(token_rows(conn)) == 2


def test_refusals(handle: Store) -> None:
    tokens.create_token(handle, "ci", "read", "alice")
    with pytest.raises(EntityExistsError, match="'ci'"):
        tokens.create_token(handle, "ci", "admin", "alice")
    with pytest.raises(ValidationError, match="read, write, admin"):
        tokens.create_token(handle, "other", "superuser", "alice")
    with pytest.raises(ValidationError):
        tokens.create_token(handle, "bad/name", "read", "alice")
    with pytest.raises(NotFoundError):
        tokens.revoke_token(handle, "nobody", "alice")
    tokens.revoke_token(handle, "ci", "alice")
    with pytest.raises(NotFoundError):
        tokens.revoke_token(handle, "ci", "alice")
    assert [t.name for t in tokens.list_tokens(handle)] == ["ci"]


def test_the_secret_is_in_no_stored_event_nor_read_table(handle: Store) -> None:
    created = [tokens.create_token(handle, f"t{i}", "write", "alice") for i in range(3)]
    tokens.revoke_token(handle, "t1", "alice")
    created.append(tokens.create_token(handle, "t1", "read", "alice"))
    stored = _stored_bytes(handle)
    assert len(stored) >= 5
    with handle.read() as conn:
        tables = repr(dump_tables(conn))
    for token in created:
        secret = token.token[len(tokens.TOKEN_PREFIX) + 33 :]
        assert len(secret) == 43
        digest = hashlib.sha256(secret.encode()).hexdigest()
        assert not any(secret.encode() in state for state in stored)
        assert not any(token.token.encode() in state for state in stored)
        assert secret not in tables
        assert any(digest.encode() in state for state in stored)  # what the log does keep


def test_reissue_after_revoke_gives_a_new_token_and_the_old_stays_refused(
    handle: Store,
) -> None:
    old = tokens.create_token(handle, "ci", "write", "alice")
    tokens.revoke_token(handle, "ci", "alice")
    new = tokens.create_token(handle, "ci", "read", "alice")
    assert new.token != old.token
    assert new.token[3:35] != old.token[3:35]  # a new token id
    assert tokens.authenticate(handle, new.token) == ("ci", "read")
    assert tokens.authenticate(handle, old.token) is None
    listed = tokens.list_tokens(handle)
    assert [(t.name, t.role, t.revoked is None) for t in listed] == [
        ("ci", "read", True),
        ("ci", "write", False),
    ]
    # the old secret under the new id, and the new secret under the old id: both refused
    old_id, old_secret = old.token[3:35], old.token[36:]
    new_id, new_secret = new.token[3:35], new.token[36:]
    assert tokens.authenticate(handle, f"mp_{new_id}_{old_secret}") is None
    assert tokens.authenticate(handle, f"mp_{old_id}_{new_secret}") is None


MALFORMED = [
    "",
    "mp_",
    "mp_" + "z" * 32 + "_" + "a" * 43,  # not hex
    "mp_" + "A" * 32 + "_" + "a" * 43,  # upper-case hex is not how ids are written
    "mp_" + "0" * 31 + "_" + "a" * 44,
    "xx_" + "0" * 32 + "_" + "a" * 43,
    "mp_" + "0" * 32 + "_" + "a" * 42,
    "mp_" + "0" * 32 + "-" + "a" * 43,
    "x" * 100_000,
    "mp_" + "0" * 32 + "_" + "a" * 100_000,
    "mp_" + "\u0660" * 32 + "_" + "a" * 43,  # Arabic-Indic digits: digits, not hex
    "mp_" + "0" * 32 + "_" + "é" * 43,
    "mp_" + "0" * 32 + "_" + "a" * 42 + "\x00",
    "\x00" * 79,
    "mp_" + "0" * 32 + "_" + "a" * 42 + "\ud800",  # a lone surrogate
    "Bearer mp_" + "0" * 32 + "_" + "a" * 43,
]


def test_malformed_tokens_are_refused_without_an_error(handle: Store) -> None:
    real = tokens.create_token(handle, "ci", "write", "alice")
    for text in [*MALFORMED, real.token + "\n", " " + real.token, real.token[:-1]]:
        assert tokens.authenticate(handle, text) is None, text[:80]
    assert tokens.authenticate(handle, None) is None  # type: ignore[arg-type]
    assert tokens.authenticate(handle, real.token.encode()) is None  # type: ignore[arg-type]
    assert tokens.authenticate(handle, real.token) == ("ci", "write")
    with handle.read() as conn:
        assert token_row(conn, "not-a-uuid\x00") is None
        assert token_row(conn, "x" * 100_000) is None


def _rebuilt_in_place(handle: Store) -> None:
    """``runner.rebuild``: the tables emptied and refolded in one transaction."""
    registry = handle.registry
    with registry.transaction(commit=True) as session:
        registry.lock_log(session)
        rebuild(session, registry.event_log)


def test_rebuilds_from_the_log_give_the_same_tokens_table(handle: Store, tmp_path: Path) -> None:
    ci = tokens.create_token(handle, "ci", "write", "alice")
    tokens.create_token(handle, "ops", "admin", "alice")
    tokens.revoke_token(handle, "ci", "bob")
    again = tokens.create_token(handle, "ci", "read", "carol")
    tokens.revoke_token(handle, "ops", "bob")
    live = _tokens_table(handle)
    assert len(live) == 3 and sum(row[6] is not None for row in live) == 2
    with handle.read() as conn:
        everything = dump_tables(conn)

    replay(handle)  # a new generation built beside the live tables, swapped in
    assert _tokens_table(handle) == live
    _rebuilt_in_place(handle)
    assert _tokens_table(handle) == live
    with handle.read() as conn:
        assert dump_tables(conn) == everything
    assert tokens.authenticate(handle, again.token) == ("ci", "read")
    assert tokens.authenticate(handle, ci.token) is None

    out = tmp_path / "replayed.db"
    replay(handle, into=out)  # a file of read tables: ``runner.rebuild``'s bulk pages
    engine = create_engine(f"sqlite:///{out}")
    try:
        with engine.connect() as conn:
            assert dump_tables(conn)["mp_api_tokens"] == everything["mp_api_tokens"]
    finally:
        engine.dispose()


def _near_tokens() -> st.SearchStrategy[str]:
    """Text shaped almost like a token: the prefix, some hex, a separator, some secret."""
    return st.builds(
        lambda prefix, hexes, sep, secret: f"{prefix}{hexes}{sep}{secret}",
        st.sampled_from(["mp_", "mp", "MP_", ""]),
        st.text(alphabet="0123456789abcdefABCDEF\u0660", min_size=30, max_size=34),
        st.sampled_from(["_", "-", ""]),
        st.text(min_size=40, max_size=46),
    )


@pytest.fixture
def issued_token(handle: Store) -> str:
    """One token, issued before hypothesis runs its examples against the store."""
    return tokens.create_token(handle, "ci", "write", "alice").token


#: any text, lone surrogates and control characters included, and text shaped like a token
_TEXT = st.one_of(st.text(st.characters(exclude_categories=())), _near_tokens())


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(text=_TEXT)
def test_authenticate_never_raises_and_admits_only_the_token(
    handle: Store, issued_token: str, text: str
) -> None:
    result = tokens.authenticate(handle, text)
    assert result == (("ci", "write") if text == issued_token else None)
    shaped = issued_token[:36] + text  # the real prefix and id, any secret
    assert tokens.authenticate(handle, shaped) == (
        ("ci", "write") if shaped == issued_token else None
    )
