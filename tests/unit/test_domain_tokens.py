"""The rules the ``ApiToken`` aggregate keeps, without a store, and its two registry commands
on the library's in-memory persistence.

A refused command must leave nothing pending: a save afterwards would append it.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
from typing import Any
from uuid import UUID, uuid4

import orjson
import pytest
from eventsourcing.application import project_aggregate

from modelplane.backend.interface import ROLES as INTERFACE_ROLES
from modelplane.domain.errors import EntityExistsError, NotFoundError, ValidationError
from modelplane.domain.registry import Registry
from modelplane.domain.serialization import OrjsonMapper
from modelplane.domain.tokens import ROLES, ApiToken, api_token_id
from tests.unit.popo import head

SECRET = secrets.token_urlsafe(32)
DIGEST = hashlib.sha256(SECRET.encode()).hexdigest()


def issued(name: str = "ci", role: str = "write", current: ApiToken | None = None) -> ApiToken:
    return ApiToken.issue(
        current, name=name, token_id=uuid4(), role=role, digest=DIGEST, actor="admin"
    )


def names(events: Any) -> list[str]:
    return [type(e).__name__ for e in events]


def test_the_domain_and_the_backend_name_the_same_roles() -> None:
    assert ROLES == INTERFACE_ROLES == ("read", "write", "admin")


def test_issuing_a_new_name_creates_the_aggregate_under_the_name_derived_id() -> None:
    token_id = uuid4()
    token = ApiToken.issue(
        None, name="ci", token_id=token_id, role="read", digest=DIGEST, actor="admin"
    )
    assert token.id == api_token_id("ci")
    assert (token.name, token.token_id, token.role, token.digest) == (
        "ci",
        str(token_id),
        "read",
        DIGEST,
    )
    assert token.active
    (event,) = token.collect_events()
    assert isinstance(event, ApiToken.Issued)
    assert (event.name, event.token_id, event.role, event.actor) == (
        "ci",
        str(token_id),
        "read",
        "admin",
    )


def test_a_name_is_checked_and_normalised_like_every_name() -> None:
    for bad in ("", "   ", "a/b", "tab\there", "x" * 256, " lead"):
        with pytest.raises(ValidationError):
            issued(bad)
    decomposed = "cafe\u0301"
    token = issued(decomposed)
    assert token.name == "caf\u00e9"
    assert token.id == api_token_id("caf\u00e9")


def test_a_role_outside_the_three_is_refused_naming_them() -> None:
    for bad in ("owner", "Read", "", "admin "):
        with pytest.raises(ValidationError) as raised:
            issued(role=bad)
        assert "read, write, admin" in str(raised.value)
    with pytest.raises(ValidationError):
        ApiToken.issue(
            None,
            name="ci",
            token_id=uuid4(),
            role=None,  # type: ignore[arg-type]
            digest=DIGEST,
            actor="a",
        )


def test_the_digest_must_be_a_hex_sha256_so_a_secret_is_refused() -> None:
    for bad in (SECRET, DIGEST.upper(), DIGEST[:-1], DIGEST + "0", "", "g" * 64):
        with pytest.raises(ValidationError, match="hex sha256"):
            ApiToken.issue(None, name="ci", token_id=uuid4(), role="read", digest=bad, actor="a")


def test_a_token_id_must_be_a_uuid() -> None:
    with pytest.raises(ValidationError, match="UUID"):
        ApiToken.issue(None, name="ci", token_id="nope", role="read", digest=DIGEST, actor="a")
    token = ApiToken.issue(
        None, name="ci", token_id=str(uuid4()).upper(), role="read", digest=DIGEST, actor="a"
    )
    assert token.token_id == str(UUID(token.token_id))  # stored in the canonical form


def test_an_active_name_refuses_a_second_issue_and_triggers_nothing() -> None:
    token = issued("ci", "write")
    token.collect_events()
    with pytest.raises(EntityExistsError) as raised:
        issued("ci", "read", current=token)
    assert str(raised.value) == "A token named 'ci' exists (role write); revoke it first."
    assert token.collect_events() == []
    assert token.role == "write"


def test_revoking_then_issuing_again_gives_the_name_a_new_token() -> None:
    token = issued("ci", "write")
    first = token.token_id
    token.revoke(actor="admin", reason="leaked")
    assert not token.active
    again = issued("ci", "admin", current=token)
    assert again is token and token.active
    assert token.token_id != first and token.role == "admin"
    events = token.collect_events()
    assert names(events) == ["Issued", "Revoked", "Issued"]
    revoked = events[1]
    assert isinstance(revoked, ApiToken.Revoked)
    assert (revoked.name, revoked.token_id, revoked.actor, revoked.reason) == (
        "ci",
        first,
        "admin",
        "leaked",
    )
    assert [e.originator_version for e in events] == [1, 2, 3]


def test_a_reissue_must_take_an_id_the_name_never_had() -> None:
    token = issued()
    old = UUID(token.token_id)
    token.revoke(actor="admin")
    token.collect_events()
    with pytest.raises(ValidationError, match="used before"):
        ApiToken.issue(token, name="ci", token_id=old, role="read", digest=DIGEST, actor="a")
    assert token.collect_events() == []


def test_issuing_under_another_names_aggregate_is_a_programming_error() -> None:
    token = issued("ci")
    token.revoke(actor="admin")
    with pytest.raises(ValueError, match="aggregate"):
        issued("other", current=token)


def test_revoking_a_revoked_token_is_not_found_and_triggers_nothing() -> None:
    token = issued()
    token.revoke(actor="admin")
    token.collect_events()
    with pytest.raises(NotFoundError, match="No active token named 'ci'"):
        token.revoke(actor="admin")
    assert token.collect_events() == []


def test_the_events_replay_to_the_same_state_through_the_log_mapper() -> None:
    """Stored and read back (orjson, explicit topics), an issue after a revocation is applied
    to the existing aggregate, not taken for a second creation."""
    token = issued("ci", "read")
    token.revoke(actor="admin")
    issued("ci", "write", current=token)
    token.revoke(actor="admin", reason="rotated")
    issued("ci", "admin", current=token)
    mapper = OrjsonMapper()
    stored = [mapper.to_stored_event(e) for e in token.collect_events()]
    assert [s.topic for s in stored] == [
        "modelplane:ApiToken.Issued",
        "modelplane:ApiToken.Revoked",
        "modelplane:ApiToken.Issued",
        "modelplane:ApiToken.Revoked",
        "modelplane:ApiToken.Issued",
    ]
    for record in stored:
        assert SECRET.encode() not in record.state
    replayed = project_aggregate(None, [mapper.to_domain_event(s) for s in stored])
    assert replayed is not None
    assert vars(replayed) == vars(token)
    assert replayed.version == 5 and replayed.role == "admin" and replayed.active
    assert len(replayed.token_ids) == 3
    payload = orjson.loads(stored[1].state)
    assert payload["reason"] is None and payload["name"] == "ci"


# ------------------------------------------------------------ registry commands


def forget(registry: Registry, aggregate_id: UUID) -> None:
    """Drop an aggregate from the cache, as a new process would not have it."""
    cache = registry.repository.cache
    assert cache is not None
    with contextlib.suppress(KeyError):
        cache.get(aggregate_id, evict=True)


def test_commands_issue_revoke_and_issue_again(registry: Registry) -> None:
    first = registry.issue_token("ci", token_id=uuid4(), role="write", digest=DIGEST, actor="a")
    assert first.id == api_token_id("ci") and first.position == head(registry) == 1
    with pytest.raises(EntityExistsError):
        registry.issue_token("ci", token_id=uuid4(), role="read", digest=DIGEST, actor="a")
    assert head(registry) == 1
    assert registry.revoke_token("ci", actor="a") == 2
    forget(registry, first.id)  # the re-issue finds the revoked token in the log
    again = registry.issue_token("ci", token_id=uuid4(), role="read", digest=DIGEST, actor="a")
    assert again == (first.id, 3)
    topics = [type(e).__name__ for e in registry.events.get(first.id)]
    assert topics == ["Issued", "Revoked", "Issued"]


def test_a_first_issue_of_a_name_known_only_to_the_log_is_refused_after_a_retry(
    registry: Registry,
) -> None:
    """The first attempt does not look the name up (it is new in the common case): the save
    conflicts with the stored token and the re-run finds it."""
    registry.issue_token("ci", token_id=uuid4(), role="write", digest=DIGEST, actor="a")
    forget(registry, api_token_id("ci"))
    with pytest.raises(EntityExistsError, match="revoke it first"):
        registry.issue_token("ci", token_id=uuid4(), role="read", digest=DIGEST, actor="a")
    assert head(registry) == 1


def test_revoking_an_unknown_or_revoked_name_is_not_found(registry: Registry) -> None:
    with pytest.raises(NotFoundError, match="No token named 'nobody' exists"):
        registry.revoke_token("nobody", actor="a")
    registry.issue_token("ci", token_id=uuid4(), role="read", digest=DIGEST, actor="a")
    registry.revoke_token("ci", actor="a")
    with pytest.raises(NotFoundError):
        registry.revoke_token("ci", actor="a")
    with pytest.raises(ValidationError):
        registry.revoke_token("", actor="a")
    with pytest.raises(ValidationError):
        registry.revoke_token("ci", actor="a", reason="nul\x00")
    assert head(registry) == 2


def test_a_refused_issue_appends_nothing(registry: Registry) -> None:
    for kwargs in (
        {"name": "ci", "role": "root", "digest": DIGEST},
        {"name": "ci", "role": "read", "digest": SECRET},
        {"name": "bad/name", "role": "read", "digest": DIGEST},
    ):
        with pytest.raises(ValidationError):
            registry.issue_token(token_id=uuid4(), actor="a", **kwargs)  # type: ignore[arg-type]
    assert head(registry) == 0


def test_the_event_listing_says_what_each_token_event_did() -> None:
    from modelplane.cli.event_summary import _SUMMARIES

    token = issued("ci", "write")
    token.revoke(actor="admin")
    mapper = OrjsonMapper()
    payloads = [orjson.loads(mapper.to_stored_event(e).state) for e in token.collect_events()]
    issue, revoke = (_SUMMARIES[f"ApiToken.{n}"] for n in ("Issued", "Revoked"))
    assert issue(None, None, payloads[0]) == "token 'ci' issued (role write)"  # type: ignore[arg-type]
    assert revoke(None, None, payloads[1]) == "token 'ci' revoked"  # type: ignore[arg-type]
    assert revoke(None, None, {**payloads[1], "reason": "leaked"}) == (  # type: ignore[arg-type]
        "token 'ci' revoked, reason: leaked"
    )
