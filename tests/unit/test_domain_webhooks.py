"""The rules the ``Webhook`` aggregate keeps, without a store, its two registry commands on the
library's in-memory persistence, and the pure parts of delivery: signing, backoff, settings.

A refused command must leave nothing pending and append nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any
from uuid import UUID, uuid4, uuid5

import orjson
import pytest
from eventsourcing.application import project_aggregate

from modelplane.backend.follow import check_types
from modelplane.backend.follow import event_types as stream_event_types
from modelplane.config import ConfigError
from modelplane.domain.errors import EntityDeletedError, NotFoundError, ValidationError
from modelplane.domain.registry import Registry
from modelplane.domain.serialization import OrjsonMapper
from modelplane.domain.webhooks import MAX_URL_LENGTH, Webhook, check_secret, event_types
from modelplane.webhooks import signing
from modelplane.webhooks.deliverer import backoff
from modelplane.webhooks.settings import WebhookSettings
from tests.unit.popo import head

SECRET = "a-receiver-chosen-secret"
DIGEST = hashlib.sha256(SECRET.encode()).hexdigest()


def registered(**overrides: Any) -> Webhook:
    arguments: dict[str, Any] = {
        "webhook_id": uuid4(),
        "url": "https://hooks.example.com/modelplane",
        "events": ["*"],
        "model": None,
        "secret_sha256": DIGEST,
        "actor": "admin",
    }
    arguments.update(overrides)
    return Webhook.register(**arguments)


# ------------------------------------------------------------------ targets


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/modelplane",
        "http://127.0.0.1:8080/hook?team=ml&x=1",
        "HTTPS://Example.COM",
        "http://[::1]:9000/",
        "http://receiver.internal/" + "p" * (MAX_URL_LENGTH - 40),
    ],
)
def test_absolute_http_urls_with_a_host_are_kept_as_given(url: str) -> None:
    assert registered(url=url).url == url


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://example.com/hook", "http:// or https://"),
        ("file:///etc/passwd", "http:// or https://"),
        ("javascript:alert(1)", "http:// or https://"),
        ("example.com/hook", "http:// or https://"),
        ("/relative/path", "http:// or https://"),
        ("", "http:// or https://"),
        ("http://", "no host"),
        ("https:///path-only", "no host"),
        ("http://:8080/", "no host"),
        ("http://user:pass@example.com/", "user name or password"),
        ("https://token@example.com/", "user name or password"),
        ("http://example.com:99999/", "malformed"),
        ("http://example.com:port/", "malformed"),
        ("http://[::1/", "malformed"),
        ("http://example.com/a b", "without spaces"),
        ("http://example.com/\x00", "without spaces"),
        ("http://exämple.com/", "ASCII"),
        ("http://example.com/#frag", "fragment"),
        ("http://example.com/" + "p" * MAX_URL_LENGTH, "limit"),
    ],
)
def test_other_targets_are_refused_before_any_event(url: str, words: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(words)):
        registered(url=url)


def test_a_url_that_is_not_text_is_refused() -> None:
    for bad in (None, 42, b"http://example.com", ["http://example.com"]):
        with pytest.raises(ValidationError, match="string"):
            registered(url=bad)


# ------------------------------------------------------------------- events


def test_the_event_names_are_the_streams_and_include_the_webhooks_own() -> None:
    assert event_types() == stream_event_types()
    assert {"Webhook.Registered", "Webhook.Removed", "Model.StageChanged"} <= event_types()
    assert check_types("Webhook.Removed") == frozenset({"Webhook.Removed"})


def test_known_event_types_are_kept_in_order_without_repeats() -> None:
    hook = registered(events=["Model.StageChanged", "ModelVersion.Created", "Model.StageChanged"])
    assert hook.events == ["Model.StageChanged", "ModelVersion.Created"]


def test_a_star_anywhere_means_every_type() -> None:
    assert registered(events=["Model.StageChanged", "*"]).events == ["*"]
    assert registered(events=("*",)).events == ["*"]


@pytest.mark.parametrize(
    ("events", "words"),
    [
        (["Model.Promoted"], "Unknown event type 'Model.Promoted'"),
        (["model.stagechanged"], "Unknown event type"),
        (["Model.StageChanged", "Nope"], "Unknown event type 'Nope'"),
        ([], "at least one"),
        ("*", "a list"),
        (None, "a list"),
        ([1], "a string"),
        ([None], "a string"),
    ],
)
def test_an_event_filter_that_could_never_match_is_refused(events: Any, words: str) -> None:
    with pytest.raises(ValidationError, match=words):
        registered(events=events)


def test_a_model_filter_is_a_model_name_checked_and_normalised() -> None:
    assert registered(model="cafe\u0301").model == "caf\u00e9"
    for bad in ("", "a/b", "x" * 256, str(uuid4()), 7):
        with pytest.raises(ValidationError):
            registered(model=bad)


# ------------------------------------------------------------ the aggregate


def test_the_id_is_the_one_the_command_chose_and_the_event_holds_no_secret() -> None:
    chosen = uuid4()
    hook = registered(webhook_id=str(chosen).upper(), model="iris", events=["Model.StageChanged"])
    assert hook.id == chosen
    (event,) = hook.collect_events()
    assert isinstance(event, Webhook.Registered)
    assert (event.url, event.events, event.model, event.secret_sha256, event.actor) == (
        "https://hooks.example.com/modelplane",
        ["Model.StageChanged"],
        "iris",
        DIGEST,
        "admin",
    )


def test_the_secret_digest_must_be_a_hex_sha256_so_a_secret_is_refused() -> None:
    for bad in (SECRET, DIGEST.upper(), DIGEST[:-1], "", "g" * 64, None):
        with pytest.raises(ValidationError, match="hex sha256"):
            registered(secret_sha256=bad)


def test_a_webhook_id_must_be_a_uuid() -> None:
    with pytest.raises(ValidationError, match="UUID"):
        registered(webhook_id="not-an-id")


def test_removing_twice_is_refused_and_triggers_nothing() -> None:
    hook = registered()
    hook.remove(actor="admin", reason="moved")
    assert hook.removed
    hook.collect_events()
    with pytest.raises(EntityDeletedError, match="was removed"):
        hook.remove(actor="admin")
    assert hook.collect_events() == []


def test_a_reason_is_checked_like_every_reason() -> None:
    hook = registered()
    hook.collect_events()
    with pytest.raises(ValidationError):
        hook.remove(actor="admin", reason="x\x00")
    assert hook.collect_events() == [] and not hook.removed


def test_the_events_replay_to_the_same_state_through_the_log_mapper() -> None:
    hook = registered(model="iris", events=["Model.StageChanged", "Model.Deleted"])
    hook.remove(actor="admin", reason=None)
    mapper = OrjsonMapper()
    stored = [mapper.to_stored_event(e) for e in hook.collect_events()]
    assert [s.topic for s in stored] == [
        "modelplane:Webhook.Registered",
        "modelplane:Webhook.Removed",
    ]
    for record in stored:
        assert SECRET.encode() not in record.state
    assert orjson.loads(stored[0].state)["secret_sha256"] == DIGEST
    replayed = project_aggregate(None, [mapper.to_domain_event(s) for s in stored])
    assert replayed is not None
    assert vars(replayed) == vars(hook)
    assert replayed.removed and replayed.version == 2


# ------------------------------------------------------------ registry commands


def test_registering_appends_one_event_under_the_chosen_id(registry: Registry) -> None:
    chosen = uuid4()
    appended = registry.register_webhook(
        chosen,
        url="http://127.0.0.1:9/hook",
        events=["*"],
        model=None,
        secret_sha256=DIGEST,
        actor="admin",
    )
    assert appended.id == chosen and appended.position == head(registry) == 1


def test_a_refused_registration_appends_nothing(registry: Registry) -> None:
    for url, events in (("ftp://x/", ["*"]), ("http://x/", ["Nope"])):
        with pytest.raises(ValidationError):
            registry.register_webhook(
                uuid4(), url=url, events=events, model=None, secret_sha256=DIGEST, actor="a"
            )
    assert head(registry) == 0


def test_an_id_taken_is_refused_and_appends_nothing(registry: Registry) -> None:
    chosen = uuid4()
    arguments: dict[str, Any] = {
        "url": "http://x/",
        "events": ["*"],
        "model": None,
        "secret_sha256": DIGEST,
        "actor": "a",
    }
    registry.register_webhook(chosen, **arguments)
    with pytest.raises(Exception, match="already exists"):
        registry.register_webhook(chosen, **arguments)
    assert head(registry) == 1


def test_removal_appends_once_and_an_unknown_id_is_not_found(registry: Registry) -> None:
    chosen = registry.register_webhook(
        uuid4(), url="http://x/", events=["*"], model=None, secret_sha256=DIGEST, actor="a"
    ).id
    assert registry.remove_webhook(chosen, actor="admin", reason="gone") == 2
    with pytest.raises(NotFoundError):
        registry.remove_webhook(chosen, actor="admin")
    with pytest.raises(NotFoundError, match="No webhook"):
        registry.remove_webhook(uuid4(), actor="admin")
    assert head(registry) == 2


# ------------------------------------------------------------------- signing


def test_a_signature_is_the_hmac_of_timestamp_dot_body_a_receiver_recomputes() -> None:
    body = b'{"position": 7, "type": "Model.StageChanged"}'
    sent = signing.headers(SECRET, uuid4(), 7, "Model.StageChanged", body, "agent/1")
    message = sent["Modelplane-Timestamp"].encode() + b"." + body
    expected = hmac.new(SECRET.encode(), message, hashlib.sha256).hexdigest()
    assert sent["Modelplane-Signature"] == f"sha256={expected}"
    assert signing.verify(SECRET, sent, body)
    lowered = {k.lower(): v for k, v in sent.items()}
    assert signing.verify(SECRET, lowered, body)


def test_verify_rejects_a_tampered_body_timestamp_or_key_and_a_stale_delivery() -> None:
    body = b'{"position": 7}'
    sent = signing.headers(SECRET, uuid4(), 7, "Model.Deleted", body, "agent/1")
    stamp = int(sent["Modelplane-Timestamp"])
    assert not signing.verify(SECRET, sent, b'{"position": 8}')
    assert not signing.verify("another-secret-entirely", sent, body)
    moved = dict(sent, **{"Modelplane-Timestamp": str(stamp + 1)})
    assert not signing.verify(SECRET, moved, body)
    assert not signing.verify(SECRET, dict(sent, **{"Modelplane-Timestamp": "x"}), body)
    assert not signing.verify(SECRET, {}, body)
    assert not signing.verify(SECRET, sent, body, now=stamp + 301)
    assert signing.verify(SECRET, sent, body, now=stamp + 299)


def test_a_delivery_id_is_the_same_for_every_attempt_at_one_position_only() -> None:
    hook = uuid4()
    assert signing.delivery_id(hook, 5) == signing.delivery_id(str(hook), 5) == uuid5(hook, "5")
    assert signing.delivery_id(hook, 6) != signing.delivery_id(hook, 5)
    assert signing.delivery_id(uuid4(), 5) != signing.delivery_id(hook, 5)
    sent = signing.headers(SECRET, hook, 5, "Model.Deleted", b"{}", "agent/1")
    assert UUID(sent["Modelplane-Delivery"]) == signing.delivery_id(hook, 5)


# ------------------------------------------------------------- backoff, settings


def test_backoff_doubles_from_the_base_up_to_the_cap_in_its_upper_half() -> None:
    for failures, ceiling in ((1, 1.0), (2, 2.0), (3, 4.0), (9, 256.0), (10, 300.0), (500, 300.0)):
        waits = [backoff(failures, 1.0, 300.0) for _ in range(200)]
        assert all(ceiling / 2 <= wait <= ceiling for wait in waits), (failures, waits[:5])
        assert len(set(waits)) > 1  # jittered


def test_settings_come_from_the_environment_and_a_lease_must_outlast_an_attempt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert WebhookSettings.from_environment() == WebhookSettings()
    monkeypatch.setenv("MODELPLANE_WEBHOOK_TIMEOUT_SECONDS", "2")
    monkeypatch.setenv("MODELPLANE_WEBHOOK_LEASE_SECONDS", "5")
    monkeypatch.setenv("MODELPLANE_WEBHOOK_BACKOFF_SECONDS", "0.05")
    found = WebhookSettings.from_environment()
    assert (found.timeout, found.lease, found.backoff, found.enabled) == (2.0, 5.0, 0.05, True)
    monkeypatch.setenv("MODELPLANE_WEBHOOK_LEASE_SECONDS", "2")
    with pytest.raises(ConfigError, match="must exceed"):
        WebhookSettings.from_environment()
    monkeypatch.setenv("MODELPLANE_WEBHOOK_LEASE_SECONDS", "-1")
    with pytest.raises(ConfigError, match="MODELPLANE_WEBHOOK_LEASE_SECONDS"):
        WebhookSettings.from_environment()
    monkeypatch.delenv("MODELPLANE_WEBHOOK_LEASE_SECONDS")
    monkeypatch.setenv("MODELPLANE_WEBHOOKS", "off")
    assert not WebhookSettings.from_environment().enabled
    monkeypatch.setenv("MODELPLANE_WEBHOOKS", "maybe")
    with pytest.raises(ConfigError, match="on or off"):
        WebhookSettings.from_environment()


def test_a_chosen_secret_is_long_visible_ascii() -> None:
    assert check_secret("s" * 16) == "s" * 16
    for bad in ("short", "x" * 1025, " padded-secret-value ", "tab\tinside-secret-x", "ü" * 20, 5):
        with pytest.raises(ValidationError):
            check_secret(bad)
