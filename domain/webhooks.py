"""The ``Webhook`` aggregate: a URL the log's events are posted to, and its removal.

Registration is an event like any other, so every server process (and a replay) learns of a
webhook from the log. The log is readable by every read token (``GET /events``), so it holds
what a webhook is and never its signing secret: the event carries the secret's hex sha256
(for audit: "was this the secret in use?"), the secret itself lives in an operational table
beside the log (``modelplane.webhooks.tables``).

Targets are checked here, before anything is appended: an absolute ``http`` or ``https`` URL
with a host and no user name or password in it (credentials in a URL would be shown to every
reader of the log), of bounded length. The events it wants are names of the log's event
types (``Model.StageChanged``), the same names the event stream's ``type=`` filter takes, or
``"*"`` for all of them; a misspelt one is refused instead of silently never matching.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any, ClassVar
from urllib.parse import urlsplit
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, DomainEvent, event

from .errors import EntityDeletedError, ValidationError
from .names import check_name
from .validation import check_text

__all__ = [
    "ALL_EVENTS",
    "MAX_URL_LENGTH",
    "Webhook",
    "check_event_filter",
    "check_model_filter",
    "check_registration",
    "check_secret",
    "check_url",
    "event_types",
]

#: the event filter that matches every event type
ALL_EVENTS = "*"
#: longer than any real endpoint, short enough for a header line and an index
MAX_URL_LENGTH = 2048
_SCHEMES = ("http", "https")
_HEX = frozenset("0123456789abcdef")


@functools.cache
def event_types() -> frozenset[str]:
    """Every event type the log can hold (``Model.StageChanged``), from the domain's topics."""
    from . import (  # noqa: F401  (registers the event classes)
        artifact,
        model,
        model_version,
        pipeline_run,
        tokens,
        version_names,
    )

    found: set[str] = set()
    pending: list[type] = [DomainEvent]
    while pending:
        cls = pending.pop()
        pending += cls.__subclasses__()
        topic = cls.__dict__.get("TOPIC")
        if isinstance(topic, str) and topic.startswith("modelplane:") and "." in topic:
            found.add(topic.split(":", 1)[1])
    return frozenset(found)


def check_url(url: object) -> str:
    """An absolute http(s) URL with a host, no credentials and no fragment, as given."""
    if not isinstance(url, str):
        raise ValidationError(f"A webhook URL must be a string, not {type(url).__name__}.")
    if len(url) > MAX_URL_LENGTH:
        msg = f"The webhook URL is {len(url)} characters long; the limit is {MAX_URL_LENGTH}."
        raise ValidationError(msg)
    if not url.isascii() or any(c.isspace() or not c.isprintable() for c in url):
        msg = (
            f"The webhook URL {url[:200]!r} must be ASCII without spaces or control "
            "characters (percent-encode the rest)."
        )
        raise ValidationError(msg)
    try:
        parts = urlsplit(url)
        port = parts.port  # raises on a port that is not a number in range
    except ValueError as error:
        raise ValidationError(f"The webhook URL {url[:200]!r} is malformed: {error}.") from None
    del port
    if parts.scheme.lower() not in _SCHEMES:
        msg = f"A webhook URL must start with http:// or https://, not {url[:200]!r}."
        raise ValidationError(msg)
    if "@" in parts.netloc:
        msg = (
            "A webhook URL must not hold a user name or password: every reader of the log "
            "would see them; authenticate the deliveries by their signature instead."
        )
        raise ValidationError(msg)
    if not parts.hostname:
        raise ValidationError(f"The webhook URL {url[:200]!r} names no host.")
    if parts.fragment or url.endswith("#"):
        raise ValidationError(f"The webhook URL {url[:200]!r} must not have a #fragment.")
    return url


def check_event_filter(events: object) -> list[str]:
    """The event types a webhook wants: known type names, or ``["*"]`` (every type).

    Repeats are dropped (first one kept); ``"*"`` beside names is just ``"*"``.
    """
    if isinstance(events, str) or not isinstance(events, Iterable):
        msg = f"A webhook's events are a list of event types or '*', not {events!r}."
        raise ValidationError(msg)
    given = list(events)
    for item in given:
        if not isinstance(item, str):
            msg = f"An event type is a string such as 'Model.StageChanged', not {item!r:.100}."
            raise ValidationError(msg)
    wanted = list(dict.fromkeys(given))
    if not wanted:
        raise ValidationError("A webhook needs at least one event type, or '*' for all.")
    if ALL_EVENTS in wanted:
        return [ALL_EVENTS]
    unknown = [t for t in wanted if t not in event_types()]
    if unknown:
        shown = ", ".join(repr(t[:100]) for t in unknown[:5])
        msg = f"Unknown event type {shown}; use '*' or some of: {', '.join(sorted(event_types()))}."
        raise ValidationError(msg)
    return wanted


def check_model_filter(model: object) -> str | None:
    """The model a webhook is limited to, by name (every life of the name), or None."""
    return None if model is None else check_name(model, "model")


def _check_digest(digest: object) -> str:
    if not isinstance(digest, str) or len(digest) != 64 or not set(digest) <= _HEX:
        msg = "A webhook's secret_sha256 is the hex sha256 of its secret (64 lowercase hex digits)."
        raise ValidationError(msg)
    return digest


def _check_id(webhook_id: object) -> UUID:
    if isinstance(webhook_id, UUID):
        return webhook_id
    try:
        return UUID(str(webhook_id))
    except ValueError:
        raise ValidationError(f"A webhook id is a UUID, not {webhook_id!r}.") from None


class Webhook(Aggregate, created_event_name="Registered"):
    """A target the log's events are posted to: which events, of which model, to which URL."""

    TOPIC: ClassVar[str] = "modelplane:Webhook"

    class Created(Aggregate.Created):
        """Never stored: the library requires a topic on its base "created" class."""

        TOPIC: ClassVar[str] = "modelplane:Webhook.Created"

    class Registered(Created):
        """``events``: type names or ``["*"]``; ``model``: a model name or None (all);
        ``secret_sha256``: the hex sha256 of the signing secret (the secret is not logged)."""

        TOPIC: ClassVar[str] = "modelplane:Webhook.Registered"
        url: str
        events: list[str]
        model: str | None
        secret_sha256: str
        actor: str

    class Removed(Aggregate.Event):
        """No event after this one is delivered to the webhook."""

        TOPIC: ClassVar[str] = "modelplane:Webhook.Removed"
        actor: str
        reason: str | None

    def __init__(
        self, url: str, events: list[str], model: str | None, secret_sha256: str, actor: str
    ) -> None:
        self.url = url
        self.events = list(events)
        self.model = model
        self.secret_sha256 = secret_sha256
        self.removed = False

    @staticmethod
    def create_id(**_: Any) -> UUID:
        return uuid4()

    # ----------------------------------------------------------------- commands

    @classmethod
    def register(
        cls,
        *,
        webhook_id: UUID | str,
        url: str,
        events: Iterable[str],
        model: str | None,
        secret_sha256: str,
        actor: str,
    ) -> Webhook:
        """A new webhook with id ``webhook_id``, every argument checked first."""
        return cls._create(
            cls.Registered,
            id=_check_id(webhook_id),
            url=check_url(url),
            events=check_event_filter(events),
            model=check_model_filter(model),
            secret_sha256=_check_digest(secret_sha256),
            actor=actor,
        )

    def remove(self, *, actor: str, reason: str | None = None) -> None:
        """Stop deliveries for good; a removed webhook cannot be removed again."""
        check_text(reason, "reason")
        if self.removed:
            raise EntityDeletedError(f"Webhook {self.id} was removed.")
        self._remove(actor=actor, reason=reason)

    # ------------------------------------------------------------------- events

    @event(Removed)
    def _remove(self, actor: str, reason: str | None) -> None:
        self.removed = True


def check_registration(
    url: object, events: object, model: object
) -> tuple[str, list[str], str | None]:
    """The checks ``Webhook.register`` makes on what a caller gives, for a caller that must
    refuse before doing anything else (storing the secret)."""
    return check_url(url), check_event_filter(events), check_model_filter(model)


def check_secret(secret: object) -> str:
    """A signing secret a caller chose: 16 to 1024 visible ASCII characters."""
    if not isinstance(secret, str):
        raise ValidationError(f"A webhook secret must be a string, not {type(secret).__name__}.")
    if not 16 <= len(secret) <= 1024:
        raise ValidationError("A webhook secret must be 16 to 1024 characters long.")
    if not secret.isascii() or not secret.isprintable() or secret != secret.strip():
        msg = "A webhook secret must be visible ASCII, without leading or trailing spaces."
        raise ValidationError(msg)
    return secret
