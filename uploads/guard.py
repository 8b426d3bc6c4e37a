"""An ASGI middleware in front of Django for `POST /api/chat/uploadFile` (CONTRACT §6).

Django's ASGI handler reads the whole request body (to a temporary file) before any view runs, and
uvicorn sets no body limit: without this guard anyone could make the server write gigabytes to disk,
with or without a token. So, before Django sees the request:

1. the Bearer token is verified (signature and expiry only, no database): 401 without reading the body;
2. a Content-Length above the largest upload limit is answered 413 without reading the body;
3. the body is counted as it streams in (chunked requests have no Content-Length): past the limit the
   client gets 413 and Django an `http.disconnect`, so it stops reading and answers nothing.

The per-type limits (audio 50 MB, video 500 MB, ...) are checked again by the view once the multipart
form says which type it is. Every other request into Django may carry at most
DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) plus framing, counted the same way.
"""

from __future__ import annotations

import json

from django.conf import settings

from chat.tokens import decode_token
from chat_project.errors import Unauthorized, error_envelope

UPLOAD_PATH = "/api/chat/uploadFile"


def _json_response(status: int, body: dict, extra_headers: list[tuple[bytes, bytes]] = ()) -> list[dict]:
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        (b"connection", b"close"),
        *extra_headers,
    ]
    return [
        {"type": "http.response.start", "status": status, "headers": headers},
        {"type": "http.response.body", "body": payload},
    ]


def _too_large() -> list[dict]:
    return _json_response(413, error_envelope("The request body is too large.", "invalid"))


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class UploadGuard:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if scope["method"] == "POST" and scope["path"].rstrip("/") == UPLOAD_PATH:
            from uploads.services import upload_request_limit

            limit = upload_request_limit()
            refusal = self._unauthorized(scope) or self._declared_too_large(scope, limit)
        else:
            # Every other request is a small form or JSON document; Django would refuse a larger
            # one only after writing all of it to disk.
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            if limit is None:
                return await self.app(scope, receive, send)
            limit += settings.UPLOAD_MULTIPART_OVERHEAD_BYTES
            refusal = self._declared_too_large(scope, limit)
        if refusal is not None:
            for message in refusal:
                await send(message)
            return None
        return await self._counted(scope, receive, send, limit)

    @staticmethod
    def _unauthorized(scope) -> list[dict] | None:
        header = _header(scope, b"authorization")
        try:
            scheme, _, token = (header or "").partition(" ")
            if scheme.lower() != "bearer":
                raise Unauthorized("Authorization must be 'Bearer <accessToken>'.")
            decode_token(token)
        except Unauthorized as exc:
            return _json_response(
                401, error_envelope(exc.message, exc.code), [(b"www-authenticate", b'Bearer realm="api"')]
            )
        return None

    @staticmethod
    def _declared_too_large(scope, limit: int) -> list[dict] | None:
        length = _header(scope, b"content-length")
        if length is not None:
            try:
                too_large = int(length) > limit
            except ValueError:
                return _json_response(400, error_envelope("Content-Length is not a number.", "invalid"))
            if too_large:
                return _too_large()
        return None

    async def _counted(self, scope, receive, send, limit: int):
        state = {"received": 0, "refused": False, "started": False}

        async def counting_receive():
            if state["refused"]:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > limit:
                    state["refused"] = True
                    if not state["started"]:
                        for out in _too_large():
                            await send(out)
                    # Django stops reading and answers nothing once the client seems gone.
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            if state["refused"]:
                return
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        return await self.app(scope, counting_receive, guarded_send)
