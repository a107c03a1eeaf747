"""Request bodies over the configured size are refused with 413 before they are parsed.

Checked on the declared ``Content-Length`` first and again on the bytes actually received (a
chunked body declares none), so a client cannot make a worker buffer more than the limit.
Artifact uploads (``/artifact_store/``) have their own, larger limit.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from modelplane.backend.errors import PayloadTooLargeError

from .errors import registry_error_response

UPLOAD_PATH = "/api/v1/artifact_store/"


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        upload = scope["path"].startswith(UPLOAD_PATH)
        limit = self.max_upload_bytes if upload else self.max_body_bytes
        what = "An artifact upload" if upload else "A request body"
        variable = "MODELPLANE_MAX_UPLOAD_BYTES" if upload else "MODELPLANE_MAX_BODY_BYTES"
        refusal = PayloadTooLargeError(
            f"{what} may hold at most {limit} bytes on this server ({variable})."
        )
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    await registry_error_response(refusal)(scope, receive, send)
                    return
        received = 0
        started = False
        exceeded = False

        async def counted() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _TooLarge
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                # The app may answer the refusal itself instead of letting it through (FastAPI
                # turns a failure to read a JSON body into 400): answer 413 in its place, once.
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await registry_error_response(refusal)(scope, receive, send)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched_send)
        except _TooLarge:
            if not started:
                await registry_error_response(refusal)(scope, receive, send)


class _TooLarge(Exception):
    pass
