"""Writes sent with an ``Idempotency-Key`` run once; a retry gets the first answer.

Every POST, PUT, PATCH and DELETE route of a router whose ``route_class`` is
:class:`IdempotentRoute` takes the header. The first request with a key claims it (scoped
to the token's name, ``mp_idempotency``: ``projections/idempotency.py``), runs, and stores
its status and body in the same transaction as its events; a retry with the same key and the
same request (method, path, query and body bytes) gets that answer again with
``Idempotent-Replayed: true`` and appends nothing, on any worker, after a restart too, for
``MODELPLANE_IDEMPOTENCY_TTL_SECONDS`` (24 h). The same key with another request is 422
(``IdempotencyKeyReusedError``); a retry while the first still runs is 409
(``IdempotencyInProgressError``, with ``Retry-After``). A refusal (404, 409, 412, 400 from
the registry: the request ran and appended nothing) is kept as the answer too, so a retry
cannot turn a refused promotion into one applied later on other state (Stripe's rule); a
failure that may pass on a retry is not kept and releases the key: a lost concurrency race
(``ConcurrencyError``), a malformed request (422, refused before the route runs), a 500. A
server killed between claiming a key and committing leaves a
``running`` row and no events: once its lease (``MODELPLANE_IDEMPOTENCY_LEASE_SECONDS``, 60 s)
has run out, a retry takes the key over and runs the request.

Requests without the header run exactly as before (no row, no extra statement); GET and HEAD
ignore it. The endpoint itself is wrapped, not the ASGI app: a plain ``def`` route runs in a
thread-pool thread, and the command lock, the transaction (``registry.atomic()``) and the
route must all be in that thread (see ``ProjectedRegistry.atomic`` for the lock order).

Routes that are not one command answering a small body decide otherwise, visibly, with a
decorator: :func:`own_transactions` for a route that commits its own transactions
(``POST /replay``: the answer is stored after it, in a transaction of its own);
:func:`keeps_no_answer` for a route whose answer must not be stored (``POST /tokens``: the
secret is shown once and the store never holds it; a retry finds the name taken, 409).
Artifact uploads (``PUT /artifact_store/{hash}``, an ``async`` route streaming the body) are
not wrapped: they are content-addressed, so a repeated upload publishes the same folder or
finds it there.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.routing import APIRoute
from starlette.responses import Response

from modelplane.domain.errors import ConcurrencyError, RegistryError, ValidationError
from modelplane.projections import idempotency as keys

from .auth import Caller, caller
from .errors import error_body, registry_error_response
from .responses import JSON
from .state import ServerState

HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_KEY = re.compile(rf"[\x20-\x7e]{{1,{keys.MAX_KEY_LENGTH}}}")

#: how a route treats a key (set by the decorators below; one command in one transaction
#: unless marked)
_MODE = "__idempotency_mode__"
ATOMIC, OWN_TRANSACTIONS, OFF = "atomic", "own", "off"
#: the parameters the wrapper adds to a route's signature (FastAPI fills them)
_REQUEST, _HEADER, _CALLER = "idempotency_request", "idempotency_key", "idempotency_caller"
_WRAPPED = "__idempotency_wrapped__"

Endpoint = Callable[..., Any]


def own_transactions(endpoint: Endpoint) -> Endpoint:
    """Mark a route that commits transactions of its own (it cannot run inside one): its
    answer is stored after it, in a transaction of its own."""
    setattr(endpoint, _MODE, OWN_TRANSACTIONS)
    return endpoint


def keeps_no_answer(endpoint: Endpoint) -> Endpoint:
    """Mark a route whose answer must not be stored: it runs as if sent without a key."""
    setattr(endpoint, _MODE, OFF)
    return endpoint


class IdempotentRoute(APIRoute):
    """An ``APIRoute`` whose plain-``def`` write endpoints take an ``Idempotency-Key``."""

    def __init__(self, path: str, endpoint: Endpoint, **kwargs: Any) -> None:
        methods = {m.upper() for m in kwargs.get("methods") or ()}
        mode = getattr(endpoint, _MODE, ATOMIC)
        self.keyed = getattr(endpoint, _WRAPPED, False) or (
            bool(methods & WRITE_METHODS)
            and mode != OFF
            and not inspect.iscoroutinefunction(endpoint)
        )
        if self.keyed and not getattr(endpoint, _WRAPPED, False):
            endpoint = _keyed(endpoint, mode)
        super().__init__(path, endpoint, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()
        if not self.keyed:
            return handler

        async def fingerprinted(request: Request) -> Response:
            # the body is read here, where it can be awaited (FastAPI reads it again from
            # the request's cache); the endpoint runs in a thread and gets the digest
            if HEADER in request.headers:
                request.state.idempotency_fingerprint = fingerprint(
                    request.method,
                    request.scope.get("raw_path") or request.url.path.encode(),
                    request.scope.get("query_string", b""),
                    await request.body(),
                )
            response: Response = await handler(request)
            return response

        return fingerprinted


def fingerprint(method: str, path: bytes, query: bytes, body: bytes) -> str:
    """What makes two requests the same request: method, path and query as sent, and the
    body's bytes (none of them can hold a raw newline but the body, which comes last)."""
    digest = hashlib.sha256(method.upper().encode("ascii"))
    for part in (path, query):
        digest.update(b"\n" + part)
    digest.update(b"\n")
    digest.update(body)
    return digest.hexdigest()


def _keyed(endpoint: Endpoint, mode: str) -> Endpoint:
    """``endpoint`` with the header, the request and the caller added to its parameters."""
    signature = inspect.signature(endpoint, eval_str=True)
    clash = {_REQUEST, _HEADER, _CALLER} & set(signature.parameters)
    if clash:
        raise TypeError(f"{endpoint.__name__} has parameters named {sorted(clash)}")
    added = [
        inspect.Parameter(_REQUEST, inspect.Parameter.KEYWORD_ONLY, annotation=Request),
        inspect.Parameter(
            _CALLER, inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[Caller, Depends(caller)]
        ),
        inspect.Parameter(
            _HEADER,
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=Annotated[
                str | None,
                Header(
                    alias=HEADER,
                    description=(
                        "Any unique string (a UUID) of 1 to 255 printable ASCII characters: "
                        "the same request sent again with it gets the first answer and "
                        "appends nothing."
                    ),
                    json_schema_extra={"maxLength": keys.MAX_KEY_LENGTH, "pattern": _KEY.pattern},
                ),
            ],
        ),
    ]
    parameters = list(signature.parameters.values())
    kinds = [p.kind for p in parameters]
    if inspect.Parameter.VAR_KEYWORD in kinds or inspect.Parameter.VAR_POSITIONAL in kinds:
        raise TypeError(f"{endpoint.__name__} takes *args or **kwargs")

    @functools.wraps(endpoint)
    def keyed(**kwargs: Any) -> Any:
        request: Request = kwargs.pop(_REQUEST)
        who: Caller = kwargs.pop(_CALLER)
        key: str | None = kwargs.pop(_HEADER)
        if key is None:
            return endpoint(**kwargs)
        return _run_keyed(endpoint, mode, kwargs, request, who, key)

    keyed.__signature__ = signature.replace(parameters=parameters + added)  # type: ignore[attr-defined]
    setattr(keyed, _WRAPPED, True)
    return keyed


def _run_keyed(
    endpoint: Endpoint,
    mode: str,
    arguments: dict[str, Any],
    request: Request,
    who: Caller,
    key: str,
) -> Response:
    if not _KEY.fullmatch(key):
        shown = key if len(key) <= 80 else key[:80] + "..."
        msg = (
            f"{HEADER} must be 1 to {keys.MAX_KEY_LENGTH} printable ASCII characters, "
            f"not {shown!r}."
        )
        raise ValidationError(msg)
    state: ServerState = request.app.state.modelplane
    settings = state.settings
    registry = state.store.registry
    engine = registry.engine
    keys.ensure_table(engine)
    found = keys.claim(
        engine,
        who.name,
        key,
        request.state.idempotency_fingerprint,
        settings.idempotency_lease_seconds,
        settings.idempotency_ttl_seconds,
    )
    if isinstance(found, keys.Answered):
        headers = {REPLAYED: "true"}
        if found.content_type:
            headers["content-type"] = found.content_type
        return Response(found.body, status_code=found.status, headers=headers)
    if isinstance(found, keys.Reused):
        msg = (
            f"The {HEADER} {key!r} was already sent by this token with a different request; "
            "a new request needs a new key."
        )
        return JSON(error_body("IdempotencyKeyReusedError", msg), status_code=422)
    if isinstance(found, keys.InProgress):
        return _in_progress(key, found.lease_until)
    ttl = settings.idempotency_ttl_seconds
    try:
        if mode == OWN_TRANSACTIONS:
            response = _plain(endpoint(**arguments))
            with engine.begin() as conn:  # (a run longer than its lease may lose its key)
                _keep(conn, found, response, ttl)
            return response
        with registry.atomic() as session:
            if not keys.hold(session, found, settings.idempotency_lease_seconds):
                raise _TakenOver
            response = _plain(endpoint(**arguments))
            # held since hold(), which locked the row (or the database) until this commits
            if not _keep(session, found, response, ttl):
                raise RuntimeError(f"the held {HEADER} {key!r} was taken over")
        return response
    except _TakenOver:
        return _in_progress(key, None)
    except RegistryError as error:
        if isinstance(error, ConcurrencyError):  # transient: a retry may well succeed
            keys.release(engine, found)
            raise
        # a refusal is the request's answer (nothing was appended): a retry gets it again,
        # not a run on whatever the state has become since
        refused = registry_error_response(error)
        with engine.begin() as conn:
            _keep(conn, found, refused, ttl)
        return refused
    except BaseException:
        keys.release(engine, found)
        raise


def _keep(conn: Any, claimed: keys.Claimed, response: Response, ttl_seconds: int) -> bool:
    content_type = response.headers.get("content-type")
    body = bytes(response.body)
    return keys.finish(conn, claimed, response.status_code, body, content_type, ttl_seconds)


class _TakenOver(Exception):
    """The claim's lease ran out before the request began, and another request took it."""


def _plain(response: Any) -> Response:
    """The endpoint's answer, which must be a whole body to be kept (not a stream)."""
    if not isinstance(response, Response) or not hasattr(response, "body"):
        raise TypeError(f"a keyed write must answer with a Response, not {type(response)}")
    return response


def _in_progress(key: str, lease_until: datetime | None) -> JSON:
    seconds = 1
    if lease_until is not None:
        seconds = max(1, math.ceil((lease_until - datetime.now(UTC)).total_seconds()))
    msg = (
        f"A request with the {HEADER} {key!r} is still running; send it again later "
        "to get its answer."
    )
    body = error_body("IdempotencyInProgressError", msg)
    return JSON(body, status_code=409, headers={"Retry-After": str(seconds)})
