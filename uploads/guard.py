"""An ASGI middleware in front of Django for `POST /api/chat/uploadFile` (CONTRACT §6, §11).

Django's ASGI handler reads the whole request body (to a temporary file) before any view runs, and
uvicorn sets no body limit: without this guard anyone could make the server write gigabytes to disk,
with or without a token. So, before Django sees the request:

1. the Bearer token is verified (signature and expiry only, no database): 401 without reading the body;
2. a Content-Length above the largest upload limit is answered 413 without reading the body;
3. the user's upload budget (CHAT_RATE_LIMIT_UPLOADS) is counted: 429 without reading the body, so a
   refused upload is never spooled, re-encoded or stored;
4. the body is counted as it streams in (chunked requests have no Content-Length): past the limit the
   client gets 413 and Django an `http.disconnect`, so it stops reading and answers nothing.

A chunked body reaches Django with the Content-Length it turned out to have: Django's multipart parser
(and DRF's) read a missing length as an empty body ("No file was submitted").

A refusal is answered so that the client can read it. Closing a connection while the client is still
sending makes the kernel reset it, and a reset throws away the answer before `fetch` has read it
(EPIPE/ECONNRESET instead of the 401). So the answer goes out first, and then the rest of the body is
read and thrown away until it ends, the client closes (`fetch` does once it has the answer), or the
drain's bounds are reached: UPLOAD_REFUSED_DRAIN_BYTES and UPLOAD_REFUSED_DRAIN_SECONDS, so nobody
can keep a refused request busy for long. Nothing drained is stored.

The per-type limits (audio 50 MB, video 500 MB, ...) are checked again by the view once the multipart
form says which type it is. Every other request into Django may carry at most
DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB) plus framing, counted the same way.
"""

from __future__ import annotations

import asyncio
import json

from django.conf import settings

from chat.errors import ApplicationError, RateLimited, Unauthorized, error_envelope
from chat.state.ratelimit import check_rate
from chat.tokens import decode_token

UPLOAD_PATH = "/api/chat/uploadFile"

Answer = tuple[dict, dict]  # http.response.start, http.response.body


def _json_response(status: int, body: dict, extra_headers: list[tuple[bytes, bytes]] = ()) -> Answer:
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(payload)).encode()),
        (b"connection", b"close"),
        *extra_headers,
    ]
    return (
        {"type": "http.response.start", "status": status, "headers": headers},
        {"type": "http.response.body", "body": payload},
    )


def _error(status: int, exc: ApplicationError, extra_headers: list[tuple[bytes, bytes]] = ()) -> Answer:
    return _json_response(status, error_envelope(exc.message, exc.code), extra_headers)


def _too_large() -> Answer:
    return _json_response(413, error_envelope("The request body is too large.", "invalid"))


def _header(scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key.lower() == name:
            return value.decode("latin-1")
    return None


async def _send_answer(send, response: Answer) -> None:
    """The whole answer (its Content-Length says so), but not yet the end of the ASGI response: uvicorn
    would then close the connection at once, or stop handing us the body we still have to drain."""
    start, body = response
    await send(start)
    await send({**body, "more_body": True})


async def _drain(receive) -> None:
    """Read and discard the rest of a refused body, within the drain's bounds (see the module text)."""
    limit = settings.UPLOAD_REFUSED_DRAIN_BYTES
    discarded = 0
    try:
        async with asyncio.timeout(settings.UPLOAD_REFUSED_DRAIN_SECONDS):
            while discarded <= limit:
                message = await receive()
                if message["type"] != "http.request":
                    return  # the client closed
                discarded += len(message.get("body", b""))
                if not message.get("more_body", False):
                    return
    except TimeoutError:
        pass


async def _finish(send) -> None:
    # The response has `connection: close`: uvicorn closes the connection now.
    await send({"type": "http.response.body", "body": b"", "more_body": False})


class UploadGuard:
    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        if scope["method"] == "POST" and scope["path"].rstrip("/") == UPLOAD_PATH:
            from uploads.services import upload_request_limit

            limit = upload_request_limit()
            user_id, refusal = self._authenticate(scope)
            refusal = refusal or self._declared_too_large(scope, limit)
            if refusal is None:
                refusal = await self._rate_limited(user_id)
        else:
            # Every other request is a small form or JSON document; Django would refuse a larger
            # one only after writing all of it to disk.
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            if limit is None:
                return await self.app(scope, receive, send)
            limit += settings.UPLOAD_MULTIPART_OVERHEAD_BYTES
            refusal = self._declared_too_large(scope, limit)
        if refusal is not None:
            await _send_answer(send, refusal)
            await _drain(receive)
            await _finish(send)
            return None
        return await self._counted(scope, receive, send, limit)

    @staticmethod
    def _authenticate(scope) -> tuple[object, Answer | None]:
        """(the token's user id, None), or (None, a 401)."""
        header = _header(scope, b"authorization")
        try:
            scheme, _, token = (header or "").partition(" ")
            if scheme.lower() != "bearer":
                raise Unauthorized("Authorization must be 'Bearer <accessToken>'.")
            claims = decode_token(token)
        except Unauthorized as exc:
            return None, _error(401, exc, [(b"www-authenticate", b'Bearer realm="api"')])
        return claims.user_id, None

    @staticmethod
    async def _rate_limited(user_id) -> Answer | None:
        try:
            await check_rate(user_id=user_id, action="upload")  # the async state layer, on this loop
        except RateLimited as exc:
            return _error(429, exc)
        return None

    @staticmethod
    def _declared_too_large(scope, limit: int) -> Answer | None:
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
        # Our own copy of the scope, so that the length of a chunked body can be written into it.
        scope = {**scope, "headers": list(scope.get("headers", ()))}
        needs_length = _header(scope, b"content-length") is None

        async def counting_receive():
            if state["refused"]:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > limit:
                    state["refused"] = True
                    if not state["started"]:
                        await _send_answer(send, _too_large())
                    # Django stops reading and answers nothing once the client seems gone.
                    return {"type": "http.disconnect"}
                if needs_length and not message.get("more_body", False) and state["received"]:
                    # Django's ASGI handler builds the request (META from these headers) only after
                    # it has read the whole body, so the length it turned out to have arrives in time.
                    scope["headers"].append((b"content-length", str(state["received"]).encode()))
            return message

        async def guarded_send(message):
            if state["refused"]:
                return
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        await self.app(scope, counting_receive, guarded_send)
        if state["refused"] and not state["started"]:
            await _drain(receive)
            await _finish(send)
        return None
