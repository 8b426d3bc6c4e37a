"""The one python-socketio `AsyncServer`, and the error path every event goes through (CONTRACT §4)."""

from __future__ import annotations

import asyncio
import contextvars
import json as stdlib_json
import logging
from collections.abc import Awaitable, Callable
from functools import wraps

import orjson
import socketio
from django.conf import settings

from chat_project.errors import ApplicationError, Invalid

logger = logging.getLogger("chat.sockets")

# Whether the client asked for an acknowledgement of the event being handled. python-socketio runs
# each event in its own task, so a context variable is per event.
ack_requested: contextvars.ContextVar[bool] = contextvars.ContextVar("ack_requested", default=True)


class OrjsonAdapter:
    """orjson for python-socketio's `json=` option: several times faster on lists and history pages.

    orjson returns bytes and refuses integers beyond 64 bits; such packets fall back to the standard
    library so that odd input is answered as invalid by a handler instead of breaking the connection.
    """

    @staticmethod
    def dumps(obj, **kwargs) -> str:
        try:
            return orjson.dumps(obj).decode()
        except TypeError:
            return stdlib_json.dumps(obj, separators=(",", ":"), default=str)

    @staticmethod
    def loads(data, **kwargs):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            return stdlib_json.loads(data)


class ChatSocketServer(socketio.AsyncServer):
    async def _handle_event_internal(self, server, sid, eio_sid, data, namespace, id):
        ack_requested.set(id is not None)
        return await super()._handle_event_internal(server, sid, eio_sid, data, namespace, id)


def _client_manager():
    if settings.REDIS_URL:
        return socketio.AsyncRedisManager(settings.REDIS_URL, channel=settings.SOCKETIO_CHANNEL)
    return None


def _cors_origins():
    return settings.CORS_ALLOWED_ORIGINS or "*"


sio = ChatSocketServer(
    async_mode="asgi",
    client_manager=_client_manager(),
    json=OrjsonAdapter,
    cors_allowed_origins=_cors_origins(),
    ping_interval=settings.SOCKETIO_PING_INTERVAL,
    ping_timeout=settings.SOCKETIO_PING_TIMEOUT,
    max_http_buffer_size=settings.SOCKETIO_MAX_HTTP_BUFFER_SIZE,
    logger=False,
    engineio_logger=False,
    transports=["polling", "websocket"],
)


def error_answer(exc: BaseException, event: str) -> dict:
    if isinstance(exc, ApplicationError):
        return exc.as_dict()
    logger.error("event %s failed", event, exc_info=exc)
    return ApplicationError().as_dict()


EventHandler = Callable[[str, dict], Awaitable[object]]


def on(event: str, *, ordered: bool = False, payload_required: bool = True):
    """Register a client event handler that always answers.

    The handler gets `(sid, payload)` where payload is a dict (anything else is `invalid`). Its return
    value is the ack. An `ApplicationError` becomes `{error, code}`; anything else is logged with its
    traceback and becomes `server_error`: an escaping exception would leave the client without an ack.
    Without an ack callback, errors go to the socket as `exception` with the event name.

    `ordered=True` runs the socket's events of that kind one at a time in arrival order, so that one
    sender's messages are stored and broadcast in the order they were sent.
    """

    def decorator(fn: EventHandler):
        @wraps(fn)
        async def handler(sid, *args):
            payload = args[0] if args else None
            try:
                if payload is None and not payload_required:
                    payload = {}
                if not isinstance(payload, dict):
                    raise Invalid("The event payload must be an object.")
                if ordered:
                    async with await _socket_lock(sid):
                        result = await fn(sid, payload)
                else:
                    result = await fn(sid, payload)
            except Exception as exc:  # noqa: BLE001 - the one place that turns every failure into an answer
                answer = error_answer(exc, event)
                if ack_requested.get():
                    return answer
                try:
                    await sio.emit("exception", {**answer, "event": event}, to=sid)
                except Exception:  # noqa: BLE001 - the socket went away meanwhile
                    logger.debug("could not report exception to %s", sid)
                return None
            return result

        sio.on(event, handler)
        return fn

    return decorator


async def _socket_lock(sid: str) -> asyncio.Lock:
    session = await sio.get_session(sid)
    lock = session.get("lock")
    if lock is None:
        lock = session["lock"] = asyncio.Lock()
    return lock
