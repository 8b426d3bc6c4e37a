"""An ASGI middleware in front of Django for `POST /api/chat/uploadFile` (CONTRACT §6).

Django's ASGI handler reads the whole request body (to a temporary file) before any view runs, and
uvicorn sets no body limit: without this guard anyone could make the server write gigabytes to disk,
with or without a token. So, before Django sees the request:

1. the Bearer token is verified (signature and expiry only, no database): 401 without reading the body;
2. a Content-Length above the largest upload limit is answered 413 without reading the body;
3. the body is counted as it streams in (chunked requests have no Content-Length): past the limit the
   client gets 413 and Django an `http.disconnect`, so it stops reading and answers nothing.

The per-type limits (audio 50 MB, video 500 MB, ...) are checked again by the view once the multipart
form says which type it is.
"""

from __future__ import annotations

import json

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


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


class UploadGuard:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"].rstrip("/") != UPLOAD_PATH:
            return await self.app(scope, receive, send)
        from uploads.services import upload_request_limit

        refusal = self._refuse_early(scope, upload_request_limit())
        if refusal is not None:
            for message in refusal:
                await send(message)
            return None
        return await self._counted(scope, receive, send, upload_request_limit())

    @staticmethod
    def _refuse_early(scope, limit: int) -> list[dict] | None:
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
        length = _header(scope, b"content-length")
        if length is not None:
            try:
                too_large = int(length) > limit
            except ValueError:
                return _json_response(400, error_envelope("Content-Length is not a number.", "invalid"))
            if too_large:
                return _json_response(413, error_envelope("The upload is too large.", "invalid"))
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
                        for out in _json_response(413, error_envelope("The upload is too large.", "invalid")):
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
