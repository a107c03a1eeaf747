"""``HttpBackend``: the backend interface over a modelplane server's ``/api/v1`` routes.

Each method is one request (two for an artifact whose bytes the server lacks), kept alive on
one ``httpx.Client`` per server and token in this process. Answers are decoded into the SDK's
response objects bound to this backend (``wire.decode``); error answers are raised as the
exception type the server's use case raised (``wire.error_from``), so remote code catches
what local code catches. A server that cannot be reached, or answers with something that is
not modelplane's API, is a ``ServerError`` naming the URL.

Artifact bytes move by content hash: a stored value is written to a local cache store first
(its materializer runs here, on the caller's machine), uploaded only if the server does not
hold that content yet, and downloads are cached by hash, so a value is fetched once.
"""

from __future__ import annotations

import base64
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote
from uuid import UUID, uuid4

import httpx

from modelplane.domain.errors import ValidationError
from modelplane.domain.validation import check_int64

from .. import config
from ..responses import (
    AliasChange,
    ArtifactConsumer,
    ArtifactVersionResponse,
    LinkedArtifact,
    LoggedEvent,
    MetadataValue,
    ModelResponse,
    ModelVersionResponse,
    Page,
    PipelineRunResponse,
    ReplayResult,
    StageChange,
    StepRunResponse,
    TokenResponse,
)
from . import jsonbody, wire
from .errors import ServerError
from .interface import (
    Backend,
    CreatedToken,
    LogPage,
    PageRequest,
    StoredEventRow,
    VersionSelector,
)

if TYPE_CHECKING:
    from ..artifacts.content_store import ArtifactStore, StoredArtifact
    from ..webhooks.responses import CreatedWebhook, WebhookDelivery, WebhookResponse

API_PREFIX = "/api/v1"
#: the most events the server sends in one page of ``GET /log``
LOG_PAGE_LIMIT = 10_000
#: an event stream silent this long (the server sends a keep-alive every 15 s) is dropped
STREAM_TIMEOUT = httpx.Timeout(60.0, connect=10.0)
#: a write carries an ``Idempotency-Key`` and is sent again with the same key after a lost
#: connection, a failed server or a gateway's 5xx: the server answers a repeat with the first
#: answer and appends nothing, so a retry never doubles a write that reached it
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
RETRIED_STATUSES = frozenset({500, 502, 503, 504})
#: errors after which the request may or may not have reached the server (or not at all)
RETRIED_ERRORS = (httpx.NetworkError, httpx.TimeoutException, httpx.RemoteProtocolError)
#: how often a write is sent again (``MODELPLANE_HTTP_RETRIES``), the pauses growing from
#: ``RETRY_PAUSE`` seconds, doubled each time up to ``RETRY_PAUSE_MAX``, with jitter
DEFAULT_RETRIES = 4
RETRY_PAUSE = 0.1
RETRY_PAUSE_MAX = 2.0
_clients: dict[tuple[str, str], httpx.Client] = {}
_lock = threading.Lock()


def _segment(value: object) -> str:
    """One path segment: ``a/b`` stays one segment (``a%2Fb``)."""
    return quote(str(value), safe="")


def _client_for(url: str, token: str) -> httpx.Client:
    with _lock:
        client = _clients.get((url, token))
        if client is None:
            client = _clients[(url, token)] = httpx.Client(
                base_url=url.rstrip("/") + API_PREFIX,
                headers={"Authorization": f"Bearer {token}", "User-Agent": "modelplane-sdk"},
                timeout=httpx.Timeout(60.0, connect=10.0),
            )
        return client


def close_all() -> None:
    """Close every kept-alive connection (tests switch servers between cases)."""
    with _lock:
        for client in _clients.values():
            client.close()
        _clients.clear()


class HttpBackend(Backend):
    def __init__(self, url: str, token: str) -> None:
        self._url = url.rstrip("/")
        self._token = token
        self._http = _client_for(self._url, token)
        self._cache: ArtifactStore | None = None
        self._actor: str | None = None

    # ----------------------------------------------------------------- plumbing

    @property
    def actor(self) -> str:
        """The token's name, as the server records it (asked once)."""
        if self._actor is None:
            self._actor = str(self._json("GET", "/whoami")["name"])
        return self._actor

    @property
    def location(self) -> str:
        return self._url

    def _send(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """One request, its error answer raised as the server's exception type; sent again
        after a lost connection or a 5xx, a write with the same ``Idempotency-Key`` (see
        ``WRITE_METHODS``). A write's ``content`` may be a function making the body, called
        for each attempt (an upload's stream); a body that cannot be sent twice is sent once."""
        response = self._send_retrying(method, path, kwargs)
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = None
            raise wire.error_from(response.status_code, body)
        return response

    def _send_retrying(self, method: str, path: str, kwargs: dict[str, Any]) -> httpx.Response:
        """A read is sent again as it is (it changes nothing); a write with its key."""
        headers = dict(kwargs.pop("headers", None) or {})
        if method.upper() in WRITE_METHODS:
            headers["Idempotency-Key"] = str(uuid4())
        content = kwargs.pop("content", None)
        repeatable = callable(content) or content is None or isinstance(content, bytes | str)
        attempts = 1 + (_retries() if repeatable else 0)
        for attempt in range(1, attempts + 1):
            body = content() if callable(content) else content
            try:
                response = self._http.request(method, path, content=body, headers=headers, **kwargs)
            except RETRIED_ERRORS as error:
                if attempt == attempts:
                    raise self._unreachable(error, attempt) from None
            except httpx.HTTPError as error:
                raise self._unreachable(error, attempt) from None
            else:
                if attempt == attempts or not _worth_retrying(response):
                    return response
            pause = min(RETRY_PAUSE_MAX, RETRY_PAUSE * 2 ** (attempt - 1))
            time.sleep(random.uniform(pause / 2, pause))
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _unreachable(self, error: httpx.HTTPError, attempts: int = 1) -> ServerError:
        tried = f" ({attempts} attempts)" if attempts > 1 else ""
        return ServerError(f"Could not reach the modelplane server at {self._url}{tried}: {error}")

    def _json(self, method: str, path: str, **kwargs: Any) -> Any:
        if "json" in kwargs:
            kwargs["content"] = jsonbody.dumps(kwargs.pop("json"))
            kwargs["headers"] = {"Content-Type": "application/json"}
        response = self._send(method, path, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return jsonbody.loads(response.content)
        except ValueError:  # orjson.JSONDecodeError and json.JSONDecodeError both are
            msg = f"{self._url} answered {method} {path} with something that is not JSON."
            raise ServerError(msg) from None

    def _page(self, cls: type[Any], data: dict[str, Any]) -> Page[Any]:
        items = [wire.decode(cls, item, self) for item in data["items"]]
        return Page(items, data["total"], data["index"], data["max_size"], data["next_cursor"])

    def _one(self, cls: type[Any], method: str, path: str, **kwargs: Any) -> Any:
        return wire.decode(cls, self._json(method, path, **kwargs), self)

    @staticmethod
    def _paging(paging: PageRequest) -> dict[str, Any]:
        params: dict[str, Any] = {"page": paging.page, "size": paging.size}
        if paging.cursor is not None:
            params["cursor"] = paging.cursor
        return params

    @staticmethod
    def _params(**values: Any) -> dict[str, Any]:
        return {k: str(v) for k, v in values.items() if v is not None}

    # ------------------------------------------------------------------ models

    def create_model(
        self, name: str, fields: dict[str, str | None], tags: Iterable[str] | None
    ) -> ModelResponse:
        body = {"name": name, **fields, "tags": _listed(tags)}
        created: ModelResponse = self._one(ModelResponse, "POST", "/models", json=body)
        return created

    def get_model(self, model_name_or_id: str | UUID) -> ModelResponse:
        found: ModelResponse = self._one(
            ModelResponse, "GET", f"/models/{_segment(model_name_or_id)}"
        )
        return found

    def list_models(
        self, name: str | None, tag: str | None, paging: PageRequest
    ) -> Page[ModelResponse]:
        params = {**self._params(name=name, tag=tag), **self._paging(paging)}
        return self._page(ModelResponse, self._json("GET", "/models", params=params))

    def update_model(
        self,
        model_name_or_id: str | UUID,
        name: str | None,
        fields: dict[str, str],
        add_tags: Iterable[str] | None,
        remove_tags: Iterable[str] | None,
    ) -> ModelResponse:
        body = {
            "name": name,
            **fields,
            "add_tags": _listed(add_tags),
            "remove_tags": _listed(remove_tags),
        }
        path = f"/models/{_segment(model_name_or_id)}"
        updated: ModelResponse = self._one(ModelResponse, "PUT", path, json=body)
        return updated

    def delete_model(self, model_name_or_id: str | UUID, reason: str | None) -> None:
        path = f"/models/{_segment(model_name_or_id)}"
        self._json("DELETE", path, params=self._params(reason=reason))

    def model_lives(self, model_name_or_id: str | UUID) -> list[ModelResponse]:
        data = self._json("GET", f"/models/{_segment(model_name_or_id)}/lives")
        return [wire.decode(ModelResponse, item, self) for item in data]

    def model_name_history(self, model_id: UUID) -> list[tuple[int, str]]:
        data = self._json("GET", f"/models/{_segment(model_id)}/name_history")
        return [(int(position), str(name)) for position, name in data]

    def model_id_for_name(self, name: str) -> UUID | None:
        from modelplane.domain.errors import NotFoundError

        try:
            return self.get_model(name).id
        except NotFoundError:
            return None

    # ---------------------------------------------------------------- versions

    def create_model_version(
        self,
        model_name_or_id: str | UUID,
        name: str | None,
        description: str | None,
        tags: Iterable[str] | None,
        source: str | None = None,
        run_id: str | None = None,
        run_link: str | None = None,
    ) -> ModelVersionResponse:
        body = {
            "model": str(model_name_or_id),
            "name": name,
            "description": description,
            "tags": _listed(tags),
            "source": source,
            "run_id": run_id,
            "run_link": run_link,
        }
        created: ModelVersionResponse = self._one(
            ModelVersionResponse, "POST", "/model_versions", json=body
        )
        return created

    def get_model_version(
        self,
        model_name_or_id: str | UUID,
        selector: VersionSelector,
        at: datetime | int | None = None,
    ) -> ModelVersionResponse:
        if isinstance(selector, int) and not isinstance(selector, bool):
            check_int64(selector, "version number")
        text = "latest" if selector is None else str(getattr(selector, "value", selector))
        path = f"/models/{_segment(model_name_or_id)}/model_versions/{_segment(text)}"
        found: ModelVersionResponse = self._one(
            ModelVersionResponse, "GET", path, params=_at_param(at)
        )
        return found

    def get_model_version_by_id(
        self, version_id: UUID | str, deleted_ok: bool = False
    ) -> ModelVersionResponse:
        params = {"deleted_ok": "true"} if deleted_ok else {}
        path = f"/model_versions/{_segment(version_id)}"
        found: ModelVersionResponse = self._one(ModelVersionResponse, "GET", path, params=params)
        return found

    def list_model_versions(
        self,
        model_name_or_id: str | UUID,
        stage: str | None,
        tag: str | None,
        name: str | None,
        paging: PageRequest,
    ) -> Page[ModelVersionResponse]:
        params = {**self._params(stage=stage, tag=tag, name=name), **self._paging(paging)}
        path = f"/models/{_segment(model_name_or_id)}/model_versions"
        return self._page(ModelVersionResponse, self._json("GET", path, params=params))

    def update_model_version(
        self,
        version_id: UUID,
        *,
        stage: str | None = None,
        force: bool = False,
        expected_holder: str | int | UUID | None = None,
        reason: str | None = None,
        name: str | None = None,
        description: str | None = None,
        add_tags: Iterable[str] | None = None,
        remove_tags: Iterable[str] | None = None,
    ) -> ModelVersionResponse:
        body = {
            "stage": None if stage is None else str(getattr(stage, "value", stage)),
            "force": bool(force),
            "reason": reason,
            "name": name,
            "expected_holder": None if expected_holder is None else _holder_text(expected_holder),
            "description": description,
            "add_tags": _listed(add_tags),
            "remove_tags": _listed(remove_tags),
        }
        path = f"/model_versions/{_segment(version_id)}"
        updated: ModelVersionResponse = self._one(ModelVersionResponse, "PUT", path, json=body)
        return updated

    def delete_model_version(self, version_id: UUID | str, reason: str | None) -> None:
        path = f"/model_versions/{_segment(version_id)}"
        self._json("DELETE", path, params=self._params(reason=reason))

    # ------------------------------------------------- aliases, key-value tags

    def set_model_version_alias(
        self,
        model_name_or_id: str | UUID,
        version: VersionSelector,
        alias: str,
        reason: str | None = None,
    ) -> ModelVersionResponse:
        if isinstance(version, int) and not isinstance(version, bool):
            check_int64(version, "version number")
        selector = "latest" if version is None else getattr(version, "value", version)
        body: dict[str, Any] = {
            "version": selector if isinstance(selector, int) else str(selector),
            "reason": reason,
        }
        found: ModelVersionResponse = self._one(
            ModelVersionResponse, "PUT", _alias_path(model_name_or_id, alias), json=body
        )
        return found

    def delete_model_version_alias(
        self, model_name_or_id: str | UUID, alias: str, reason: str | None = None
    ) -> None:
        path = _alias_path(model_name_or_id, alias)
        self._json("DELETE", path, params=self._params(reason=reason))

    def get_model_version_by_alias(
        self, model_name_or_id: str | UUID, alias: str, at: datetime | int | None = None
    ) -> ModelVersionResponse:
        path = _alias_path(model_name_or_id, alias)
        found: ModelVersionResponse = self._one(
            ModelVersionResponse, "GET", path, params=_at_param(at)
        )
        return found

    def list_model_aliases(
        self, model_name_or_id: str | UUID, at: datetime | int | None = None
    ) -> dict[str, ModelVersionResponse]:
        path = f"/models/{_segment(model_name_or_id)}/aliases"
        data = self._json("GET", path, params=_at_param(at))
        return {alias: wire.decode(ModelVersionResponse, v, self) for alias, v in data.items()}

    def get_alias_history(
        self, model_name_or_id: str | UUID, alias: str | None = None
    ) -> list[AliasChange]:
        path = f"/models/{_segment(model_name_or_id)}/alias_history"
        data = self._json("GET", path, params=self._params(alias=alias))
        return [wire.decode(AliasChange, item, self) for item in data]

    def set_model_tag(self, model_name_or_id: str | UUID, key: str, value: str) -> None:
        path = f"/models/{_segment(model_name_or_id)}/key_value_tags/{_segment(key)}"
        self._json("PUT", path, json={"value": value})

    def delete_model_tag(self, model_name_or_id: str | UUID, key: str) -> None:
        path = f"/models/{_segment(model_name_or_id)}/key_value_tags/{_segment(key)}"
        self._json("DELETE", path)

    def set_model_version_tag(self, version_id: UUID | str, key: str, value: str) -> None:
        path = f"/model_versions/{_segment(version_id)}/key_value_tags/{_segment(key)}"
        self._json("PUT", path, json={"value": value})

    def delete_model_version_tag(self, version_id: UUID | str, key: str) -> None:
        path = f"/model_versions/{_segment(version_id)}/key_value_tags/{_segment(key)}"
        self._json("DELETE", path)

    # --------------------------------------------------------- history & audit

    def get_stage_history(
        self, model_name_or_id: str | UUID, after: int | None, limit: int | None
    ) -> list[StageChange]:
        if after is not None:
            after = check_int64(after, "log position")
        if limit is not None:
            if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
                raise ValidationError("limit must be a whole number of at least 1.")
            check_int64(limit, "limit")
        path = f"/models/{_segment(model_name_or_id)}/stage_history"
        data = self._json("GET", path, params=self._params(after=after, limit=limit))
        return [wire.decode(StageChange, item, self) for item in data]

    def list_events(
        self, model: str | UUID | None, after: int | None, limit: int
    ) -> list[LoggedEvent]:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValidationError("limit must be at least 1.")
        start = check_int64(after or 0, "log position")
        check_int64(limit, "limit")
        events: list[LoggedEvent] = []
        while len(events) < limit:  # the server answers at most 10,000 per request
            want = min(limit - len(events), 10_000)
            params = self._params(model=model, after=start, limit=want)
            batch = [
                wire.decode(LoggedEvent, e, self)
                for e in self._json("GET", "/events", params=params)
            ]
            events += batch
            if len(batch) < want:
                break
            start = batch[-1].position
        return events

    def follow_events(
        self, after: int | None, model: str | UUID | None, types: Iterable[str] | None
    ) -> Iterator[LoggedEvent]:
        from .follow import check_position, check_types, read_stream

        wanted = check_types(types)
        query: dict[str, Any] = self._params(model=model)
        if wanted:
            query["type"] = sorted(wanted)
        start = None if after is None else check_position(after)

        def connect(last: int | None) -> httpx.Response:
            params, headers = dict(query), {}
            if last is not None:  # the header is what a reconnect resumes from
                params["after"] = headers["Last-Event-ID"] = str(last)
            request = self._http.build_request(
                "GET", "/events/stream", params=params, headers=headers, timeout=STREAM_TIMEOUT
            )
            try:
                response = self._http.send(request, stream=True)
            except httpx.HTTPError as error:
                msg = f"Could not reach the modelplane server at {self._url}: {error}"
                raise ServerError(msg) from None
            if response.status_code != 200:
                response.read()
                response.close()
                raise wire.error_from(response.status_code, _json_or_none(response))
            return response

        def decode(data: str) -> LoggedEvent:
            return wire.decode(LoggedEvent, jsonbody.loads(data.encode()), self)

        def error(body: dict[str, Any]) -> Exception:
            return wire.error_from(500, body)

        return read_stream(connect, connect(start), decode, error, start)

    def rebuild_projections(
        self,
        until: int | datetime | None = None,
        into: str | Path | None = None,
        progress: Callable[[int, int], None] | None = None,
        overwrite: bool = False,
    ) -> ReplayResult:
        if into is not None:  # the server's log, folded here by the local replay
            from .remote_replay import replay_into

            return replay_into(self, until, into, progress, overwrite)
        body = {"until": until.isoformat() if isinstance(until, datetime) else until}
        result: ReplayResult = self._one(ReplayResult, "POST", "/replay", json=body)
        return result

    def read_log(self, after: int, until: int | datetime | None, limit: int) -> LogPage:
        start = check_int64(after, "log position")
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise ValidationError("limit must be a whole number of at least 1.")
        if until is not None and (isinstance(until, bool) or not isinstance(until, int | datetime)):
            msg = f"'until' must be a datetime or a log position, not {until!r}."
            raise ValidationError(msg)
        bound = until.isoformat() if isinstance(until, datetime) else until
        params = self._params(after=start, until=bound, limit=min(limit, LOG_PAGE_LIMIT))
        data = self._json("GET", "/log", params=params)
        try:
            events = [
                StoredEventRow(
                    int(e["position"]),
                    UUID(e["originator_id"]),
                    int(e["originator_version"]),
                    str(e["topic"]),
                    base64.b64decode(e["state"], validate=True),
                )
                for e in data["events"]
            ]
            return LogPage(int(data["position"]), int(data["remaining"]), events)
        except (KeyError, TypeError, ValueError):  # binascii.Error is a ValueError
            msg = f"{self._url} answered GET /log with something that is not a page of the log."
            raise ServerError(msg) from None

    # ---------------------------------------------------------------- metadata

    def metadata_of(self, target_id: UUID, until: int | None = None) -> dict[str, MetadataValue]:
        data = self._json(
            "GET", f"/metadata/{_segment(target_id)}", params=self._params(until=until)
        )
        return {key: wire.decode(MetadataValue, value, self) for key, value in data.items()}

    def _log(
        self, path: str, metadata: dict[str, Any], run_id: UUID | None, step: str | None
    ) -> None:
        body = {"metadata": metadata, "run_id": run_id, "step": step}
        try:
            content = jsonbody.dumps(body)
        except TypeError as error:
            raise ValidationError(f"metadata must be JSON values: {error}") from None
        self._send("POST", path, content=content, headers={"Content-Type": "application/json"})

    def log_model_version_metadata(
        self,
        version_id: UUID,
        metadata: dict[str, Any],
        run_id: UUID | None = None,
        step: str | None = None,
    ) -> None:
        self._log(f"/model_versions/{_segment(version_id)}/metadata", metadata, run_id, step)

    def log_artifact_metadata(
        self,
        artifact_version_id: UUID,
        metadata: dict[str, Any],
        run_id: UUID | None = None,
        step: str | None = None,
    ) -> None:
        path = f"/artifact_versions/{_segment(artifact_version_id)}/metadata"
        self._log(path, metadata, run_id, step)

    def log_run_metadata(
        self, run_id: UUID, metadata: dict[str, Any], step: str | None = None
    ) -> None:
        self._log(f"/runs/{_segment(run_id)}/metadata", metadata, None, step)

    # --------------------------------------------------------------- artifacts

    def get_artifact_version(
        self, name_id_or_prefix: str | UUID, version: str | int | None
    ) -> ArtifactVersionResponse:
        path = f"/artifact_versions/{_segment(name_id_or_prefix)}"
        found: ArtifactVersionResponse = self._one(
            ArtifactVersionResponse, "GET", path, params=self._params(version=version)
        )
        return found

    def list_artifact_versions(
        self, name: str | None, paging: PageRequest
    ) -> Page[ArtifactVersionResponse]:
        params = {**self._params(name=name), **self._paging(paging)}
        data = self._json("GET", "/artifact_versions", params=params)
        return self._page(ArtifactVersionResponse, data)

    def linked_artifacts(self, version_id: UUID, until: int | None = None) -> list[LinkedArtifact]:
        path = f"/model_versions/{_segment(version_id)}/artifacts"
        data = self._json("GET", path, params=self._params(until=until))
        return [wire.decode(LinkedArtifact, item, self) for item in data]

    def consumers_of(self, artifact_version_id: UUID) -> list[ArtifactConsumer]:
        path = f"/artifact_versions/{_segment(artifact_version_id)}/consumers"
        return [wire.decode(ArtifactConsumer, item) for item in self._json("GET", path)]

    def artifact_name(self, artifact_id: UUID | str) -> str | None:
        found = self._json("GET", f"/artifacts/{_segment(artifact_id)}/name")
        return None if found is None else str(found)

    @property
    def cache(self) -> ArtifactStore:
        """Artifacts this machine wrote or downloaded, by content hash."""
        if self._cache is None:
            from ..artifacts.content_store import ArtifactStore

            self._cache = ArtifactStore(config.home() / "cache" / "artifacts")
        return self._cache

    def store_artifact(self, value: Any, materializer: Any = None) -> StoredArtifact:
        from ..artifacts.transfer import pack

        stored = self.cache.save(value, materializer=materializer)
        path = f"/artifact_store/{stored.content_hash}"
        if self._send_quiet("HEAD", path) != 200:
            # made anew for each attempt: an upload is content-addressed, so sending it again
            # publishes the same folder (or finds it there)
            def chunks() -> Iterator[bytes]:
                return pack(self.cache, stored.content_hash)

            self._send("PUT", path, content=chunks, headers={"Content-Type": "application/x-tar"})
        return stored

    def _send_quiet(self, method: str, path: str) -> int:
        try:
            return self._http.request(method, path).status_code
        except httpx.HTTPError as error:
            msg = f"Could not reach the modelplane server at {self._url}: {error}"
            raise ServerError(msg) from None

    def load_artifact(self, stored: StoredArtifact, label: str) -> Any:
        import tempfile

        from ..artifacts.transfer import receive

        if not self.cache.verify(stored.content_hash):
            path = f"/artifact_store/{_segment(stored.content_hash)}"
            with tempfile.TemporaryFile() as spool:
                try:
                    with self._http.stream("GET", path) as response:
                        if response.status_code >= 400:
                            response.read()
                            raise wire.error_from(response.status_code, _json_or_none(response))
                        for chunk in response.iter_bytes():
                            spool.write(chunk)
                except httpx.HTTPError as error:
                    msg = f"Could not download {label} from {self._url}: {error}"
                    raise ServerError(msg) from None
                spool.seek(0)
                receive(self.cache, stored.content_hash, spool)
        return self.cache.load(stored, label=label)

    def record_artifact_version(
        self,
        name: str,
        stored: StoredArtifact,
        tags: Iterable[str] | None,
        run_id: UUID | None,
        step: str | None,
        link_to: UUID | None,
        link_kind: str,
    ) -> ArtifactVersionResponse:
        body = {
            "name": name,
            "content_hash": stored.content_hash,
            "materializer": stored.materializer,
            "data_type": stored.data_type,
            "artifact_type": stored.artifact_type,
            "size_bytes": stored.size_bytes,
            "tags": _listed(tags),
            "run_id": run_id,
            "step": step,
            "link_to": link_to,
            "link_kind": link_kind,
        }
        recorded: ArtifactVersionResponse = self._one(
            ArtifactVersionResponse, "POST", "/artifact_versions", json=body
        )
        return recorded

    def link_artifact(
        self,
        version_id: UUID,
        artifact_version_id: UUID,
        kind: str,
        run_id: UUID | None = None,
        step: str | None = None,
    ) -> None:
        body = {
            "artifact_version_id": artifact_version_id,
            "kind": kind,
            "run_id": run_id,
            "step": step,
        }
        self._json("POST", f"/model_versions/{_segment(version_id)}/artifacts", json=body)

    # -------------------------------------------------------------------- runs

    def start_run(
        self,
        run_id: UUID,
        name: str,
        pipeline: str,
        model_version_id: UUID | None,
        model_version_how: str | None,
        stage: str | None,
        parameters: dict[str, Any],
    ) -> None:
        body = {
            "id": run_id,
            "name": name,
            "pipeline": pipeline,
            "model_version_id": model_version_id,
            "model_version_how": model_version_how,
            "stage": stage,
            "parameters": parameters,
        }
        self._json("POST", "/runs", json=body)

    def finish_step(
        self,
        run_id: UUID,
        step: str,
        inputs: dict[str, UUID],
        outputs: dict[str, UUID],
        duration_ms: float,
        error: str | None,
    ) -> None:
        body = {"inputs": inputs, "outputs": outputs, "duration_ms": duration_ms, "error": error}
        self._json("PUT", f"/runs/{_segment(run_id)}/steps/{_segment(step)}", json=body)

    def finish_run(self, run_id: UUID, status: str, error: str | None = None) -> None:
        self._json("PUT", f"/runs/{_segment(run_id)}", json={"status": status, "error": error})

    def get_pipeline_run(self, name_id_or_prefix: str | UUID) -> PipelineRunResponse:
        found: PipelineRunResponse = self._one(
            PipelineRunResponse, "GET", f"/runs/{_segment(name_id_or_prefix)}"
        )
        return found

    def list_pipeline_runs(
        self,
        model: str | UUID | None,
        status: str | None,
        model_version_id: UUID | str | None,
        paging: PageRequest,
    ) -> Page[PipelineRunResponse]:
        params = {
            **self._params(model=model, status=status, model_version_id=model_version_id),
            **self._paging(paging),
        }
        return self._page(PipelineRunResponse, self._json("GET", "/runs", params=params))

    def steps_of(self, run_id: UUID) -> dict[str, StepRunResponse]:
        data = self._json("GET", f"/runs/{_segment(run_id)}/steps")
        return {name: wire.decode(StepRunResponse, item) for name, item in data.items()}

    def consuming_runs(self, version_id: UUID) -> list[PipelineRunResponse]:
        data = self._json("GET", f"/model_versions/{_segment(version_id)}/consuming_runs")
        return [wire.decode(PipelineRunResponse, item, self) for item in data]

    # ------------------------------------------------------------------ tokens

    def create_token(self, name: str, role: str) -> CreatedToken:
        data = self._json("POST", "/tokens", json={"name": name, "role": role})
        return CreatedToken(token=data["token"], name=data["name"], role=data["role"])

    def list_tokens(self) -> list[TokenResponse]:
        return [wire.decode(TokenResponse, item) for item in self._json("GET", "/tokens")]

    def revoke_token(self, name: str) -> None:
        self._json("DELETE", f"/tokens/{_segment(name)}")

    # ---------------------------------------------------------------- webhooks

    def create_webhook(
        self, url: str, events: list[str], model: str | None, secret: str | None
    ) -> CreatedWebhook:
        from ..webhooks.responses import CreatedWebhook

        body = {"url": url, "events": list(events), "model": model, "secret": secret}
        return wire.decode(CreatedWebhook, self._json("POST", "/webhooks", json=body))

    def list_webhooks(self) -> list[WebhookResponse]:
        from ..webhooks.responses import WebhookResponse

        return [wire.decode(WebhookResponse, item) for item in self._json("GET", "/webhooks")]

    def get_webhook(self, webhook_id: UUID | str) -> WebhookResponse:
        from ..webhooks.responses import WebhookResponse

        path = f"/webhooks/{self._webhook_id(webhook_id)}"
        return wire.decode(WebhookResponse, self._json("GET", path))

    def delete_webhook(self, webhook_id: UUID | str, reason: str | None = None) -> None:
        path = f"/webhooks/{self._webhook_id(webhook_id)}"
        self._json("DELETE", path, params=self._params(reason=reason))

    def list_webhook_deliveries(
        self, webhook_id: UUID | str, limit: int = 50
    ) -> list[WebhookDelivery]:
        from ..webhooks.responses import WebhookDelivery

        path = f"/webhooks/{self._webhook_id(webhook_id)}/deliveries"
        data = self._json("GET", path, params={"limit": str(limit)})
        return [wire.decode(WebhookDelivery, item) for item in data]

    @staticmethod
    def _webhook_id(webhook_id: object) -> UUID:
        """Refused here as local mode refuses it, instead of as the route's 422."""
        try:
            return webhook_id if isinstance(webhook_id, UUID) else UUID(str(webhook_id))
        except ValueError:
            msg = f"A webhook id is a UUID, not {str(webhook_id)[:100]!r}."
            raise ValidationError(msg) from None


def _alias_path(model_name_or_id: str | UUID, alias: str) -> str:
    return f"/models/{_segment(model_name_or_id)}/aliases/{_segment(alias)}"


def _listed(values: Iterable[str] | None) -> list[str] | None:
    return None if values is None else list(values)


def _holder_text(value: object) -> str | int:
    """An ``expected_holder`` as the body field takes it (refused here as local mode does)."""
    if isinstance(value, bool) or not isinstance(value, (str, int, UUID)):
        raise ValidationError("expected_holder must be a version name, number or id, or 'none'.")
    return value if isinstance(value, (str, int)) else str(value)


def _at_param(at: datetime | int | None) -> dict[str, str]:
    if at is None:
        return {}
    if isinstance(at, datetime):
        return {"at": at.isoformat()}
    if isinstance(at, bool) or not isinstance(at, int):
        raise ValidationError(f"at must be a datetime or a log position, not {at!r}.")
    return {"at": str(check_int64(at, "log position"))}


def _retries() -> int:
    """``MODELPLANE_HTTP_RETRIES``: how often a write is sent again (0: never)."""
    raw = os.environ.get("MODELPLANE_HTTP_RETRIES")
    if not raw:
        return DEFAULT_RETRIES
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if not 0 <= value <= 100:
        msg = f"MODELPLANE_HTTP_RETRIES must be a whole number from 0 to 100, not {raw!r}."
        raise config.ConfigError(msg)
    return value


def _worth_retrying(response: httpx.Response) -> bool:
    """A failed server or gateway (5xx), or the first attempt of this very request still
    running on the server (409 ``IdempotencyInProgressError``): the same request again
    gets the answer, once there is one."""
    if response.status_code in RETRIED_STATUSES:
        return True
    if response.status_code != 409:
        return False
    body = _json_or_none(response)
    error = body.get("error") if isinstance(body, dict) else None
    return isinstance(error, dict) and error.get("type") == "IdempotencyInProgressError"


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
