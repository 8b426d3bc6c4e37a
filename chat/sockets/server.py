"""The one python-socketio `AsyncServer`, and the error path every event goes through (CONTRACT §4)."""

from __future__ import annotations

import asyncio
import contextvars
import json as stdlib_json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import wraps

import orjson
import socketio
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DatabaseError, connection

from chat.errors import ApplicationError, Invalid, Unauthorized
from chat.parsers import MAX_JSON_DEPTH, depth_exceeds
from chat.sockets import backpressure
from chat.sockets.managers import ChatManager, ChatRedisManager
from chat.sockets.registry import ClientEvent, register_client
from chat.sockets.shutdown import admission

logger = logging.getLogger("chat.sockets")

# Whether the client asked for an acknowledgement of the event being handled. python-socketio runs
# each event in its own task, so a context variable is per event.
ack_requested: contextvars.ContextVar[bool] = contextvars.ContextVar("ack_requested", default=True)
# Set by an event's answer when the socket is to be disconnected once that answer has been sent.
disconnect_after_answer: contextvars.ContextVar[bool] = contextvars.ContextVar("disconnect_after_answer", default=False)


# CONTRACT §11: a payload nested deeper than this (the payload object is level 1) is `invalid`.
MAX_PAYLOAD_DEPTH = MAX_JSON_DEPTH
# Event names python-socketio reserves: a client event named so must not reach those handlers.
RESERVED_EVENTS = frozenset({"connect", "disconnect", "connect_error", "disconnecting"})
# Our API takes no binary arguments; a few attachments are tolerated, more is an attack on memory.
MAX_ATTACHMENTS = 8


class TooDeep:
    """Stands in for a payload nested deeper than MAX_PAYLOAD_DEPTH, so that the event is answered
    `invalid` instead of being decoded (or refused by the JSON parser's own recursion limit)."""

    def __repr__(self) -> str:
        return "<too deep>"


TOO_DEEP = TooDeep()
_SCALARS = frozenset({str, int, float, bool, type(None)})  # never binary, never containers
_EVENT_NAME = re.compile(r'\s*\[\s*("(?:[^"\\]|\\.)*")')


class OrjsonAdapter:
    """orjson for python-socketio's `json=` option: several times faster on lists and history pages.

    orjson returns bytes and refuses integers beyond 64 bits; such packets fall back to the standard
    library so that odd input is answered as invalid by a handler instead of breaking the connection.
    A packet too deep for either parser (orjson stops at 1,024 levels) keeps its event name and gets
    TOO_DEEP as its payload, so the client still hears `invalid`.
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
        except orjson.JSONDecodeError as exc:
            if "depth" not in str(exc):
                return stdlib_json.loads(data)  # big integers; anything truly broken raises here
            name = _EVENT_NAME.match(data)
            if name is None:
                raise ValueError("packet nested too deep") from None
            return [stdlib_json.loads(name[1]), TOO_DEEP]


class ChatPacket(socketio.packet.Packet):
    """The Socket.IO packet, checked as it is decoded (CONTRACT §11).

    An event named like a reserved one is renamed, so that it reaches the catch-all handler (an
    `invalid` answer) instead of python-socketio's connect or disconnect handler; a payload deeper than
    MAX_PAYLOAD_DEPTH is replaced by TOO_DEEP; anything that cannot be an event raises ValueError,
    which `ChatSocketServer` answers by disconnecting only that socket.
    """

    json = OrjsonAdapter

    @classmethod
    def data_is_binary(cls, data) -> bool:
        """python-socketio's check of every packet it builds (each emit and ack), without the list and
        `reduce` it makes at every level of the payload: half the time on a MessageDto."""
        stack = [data]
        while stack:
            item = stack.pop()
            kind = type(item)
            if kind in _SCALARS:  # most values of a DTO: one set look-up, no isinstance chain
                continue
            if kind is dict or isinstance(item, dict):
                stack.extend(item.values())
            elif kind is list or isinstance(item, list | tuple):
                stack.extend(item)
            elif isinstance(item, bytes | bytearray):
                return True
        return False

    def decode(self, encoded_packet):
        attachments = super().decode(encoded_packet)
        if self.packet_type in (socketio.packet.BINARY_EVENT, socketio.packet.BINARY_ACK):
            if not 1 <= attachments <= MAX_ATTACHMENTS:
                raise ValueError(f"a binary packet announces {attachments} attachments")
        if self.packet_type in (socketio.packet.EVENT, socketio.packet.BINARY_EVENT):
            data = self.data
            if not isinstance(data, list) or not data or not isinstance(data[0], str):
                raise ValueError("an event packet without an event name")
            if data[0] in RESERVED_EVENTS:
                data[0] = f"reserved:{data[0]}"
            # A payload cannot nest deeper than the packet has opening brackets (the event's list is one
            # of them): most packets are answered by two C-level counts instead of a walk.
            if isinstance(encoded_packet, str) and encoded_packet.count("{") + encoded_packet.count("[") <= (
                MAX_PAYLOAD_DEPTH
            ):
                return attachments
            if any(arg is TOO_DEEP or depth_exceeds(arg, MAX_PAYLOAD_DEPTH) for arg in data[1:]):
                self.data = [data[0], TOO_DEEP]
        return attachments


class ChatSocketServer(socketio.AsyncServer):
    """python-socketio's server with the two hooks it offers no public way for (pinned by
    tests/sockets/test_forged_packets.py against the installed version):

    - whether the client asked for an acknowledgement of the event being handled (`ack_requested`);
    - a broken packet (undecodable, an attachment that never fits, text where an attachment was due)
      disconnects only its socket, with a warning and no traceback. python-socketio would log a
      traceback and, for a broken binary packet, keep waiting for attachments: the socket stayed
      connected but deaf for ever.
    """

    async def _handle_event_internal(self, server, sid, eio_sid, data, namespace, id):
        ack_requested.set(id is not None)
        disconnect_after_answer.set(False)
        admission.begin()  # a graceful stop waits for the event and its answer (chat/sockets/shutdown.py)
        try:
            await super()._handle_event_internal(server, sid, eio_sid, data, namespace, id)
        finally:
            admission.end()
        if disconnect_after_answer.get():
            await self.disconnect(sid, namespace=namespace)

    async def _send_packet(self, eio_sid, pkt):
        """As python-socketio sends a packet to one socket (an answer, above all), but written at once,
        from this step, where its writer is idle (`backpressure.send_now`); queued as before otherwise."""
        encoded = pkt.encode()
        if isinstance(encoded, str):
            socket = self.eio.sockets.get(eio_sid)
            if (
                socket is not None
                and not socket.closed
                and not backpressure.ping_overdue(socket, time.time())
                and backpressure.send_now(socket, backpressure.message_frame(encoded))
            ):
                return
            await self.eio.send(eio_sid, encoded)
            return
        for part in encoded:
            await self.eio.send(eio_sid, part)

    async def _trigger_event(self, event, namespace, *args):
        # The connect handshake is bounded and refused during a graceful stop like any event (README,
        # "Failure modes"): it hops to the ORM's thread for the token's user.
        if event != "connect":
            return await super()._trigger_event(event, namespace, *args)
        if admission.stopping:
            raise socketio.exceptions.ConnectionRefusedError("the server is restarting")
        # Not asyncio.wait_for: python-socketio's _trigger_event swallows the cancellation and returns
        # None, which would accept the socket (unverified) instead of refusing it.
        handling = asyncio.ensure_future(super()._trigger_event(event, namespace, *args))
        done, _ = await asyncio.wait({handling}, timeout=settings.CHAT_EVENT_TIMEOUT_SECONDS)
        if done:
            return handling.result()
        handling.cancel()
        await asyncio.wait({handling})
        sid = args[0]
        logger.warning("connect of %s took over %ss: refused", sid, settings.CHAT_EVENT_TIMEOUT_SECONDS)
        await self._forget_refused(sid)
        raise socketio.exceptions.ConnectionRefusedError("server error while connecting: try again")

    async def _forget_refused(self, sid: str) -> None:
        """A connect cut short may have counted the socket in presence already: take it back out."""
        from chat.state.store import get_state

        try:
            claimed = (await self.get_session(sid)).get("claimed_user_id")
            if claimed is not None:
                await asyncio.wait_for(get_state().presence.remove_socket(claimed, sid), 2)
        except Exception:  # noqa: BLE001 - best effort; the socket is refused either way
            logger.warning("could not take the refused socket %s out of presence", sid)

    async def _handle_eio_disconnect(self, eio_sid, reason):
        try:
            await super()._handle_eio_disconnect(eio_sid, reason)
        finally:
            backpressure.session_ended(self.eio, eio_sid)  # its connection closes too, even unread

    def _engineio_server_class(self):
        return backpressure.EngineIOServer  # send queues bounded per socket

    async def _handle_eio_message(self, eio_sid, data):
        try:
            if eio_sid in self._binary_packet and not isinstance(data, bytes):
                raise ValueError("a text packet where a binary attachment was due")
            await super()._handle_eio_message(eio_sid, data)
        except (ValueError, TypeError, KeyError, IndexError, AttributeError, RecursionError) as exc:
            self._binary_packet.pop(eio_sid, None)
            logger.warning("broken packet from %s (%s): disconnecting it", eio_sid, exc)
            await self.eio.disconnect(eio_sid)


def _client_manager():
    if settings.REDIS_URL:
        return ChatRedisManager(settings.REDIS_URL, channel=settings.SOCKETIO_CHANNEL)
    return ChatManager()


def _cors_origins():
    return settings.CORS_ALLOWED_ORIGINS or "*"


sio = ChatSocketServer(
    async_mode="asgi",
    client_manager=_client_manager(),
    json=OrjsonAdapter,
    serializer=ChatPacket,
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


class _TimeoutLog:
    """One warning a second at most for events that ran out of time: a hung database times out every
    event at once, a flooding socket thousands of its queued ones."""

    def __init__(self) -> None:
        self._last = 0.0
        self._unsaid = 0

    def note(self, event: str, sid: str) -> None:
        now = time.monotonic()
        if now - self._last < 1.0:
            self._unsaid += 1
            return
        more = f" (and {self._unsaid} more since the last such line)" if self._unsaid else ""
        logger.warning("%s of %s took over %ss: answered server_error%s",
                       event, sid, settings.CHAT_EVENT_TIMEOUT_SECONDS, more)  # fmt: skip
        self._last, self._unsaid = now, 0


_timeouts = _TimeoutLog()
_dropping: asyncio.Task | None = None


def _drop_broken_connection() -> None:
    """After a database error: one hop to the ORM's thread closes its connection if the error left it
    unusable (PostgreSQL restarted), so that the next call connects anew. Django does this only on
    the request signals, which socket events never send; without it every event failed on the dead
    connection until some HTTP request came by. One such hop at a time."""
    global _dropping
    if _dropping is None or _dropping.done():
        _dropping = asyncio.get_running_loop().create_task(
            sync_to_async(_close_if_unusable)(), context=contextvars.Context()
        )


def _close_if_unusable() -> None:
    if connection.connection is not None and connection.errors_occurred and not connection.in_atomic_block:
        if connection.is_usable():
            connection.errors_occurred = False
        else:
            connection.close()


class EventTimedOut(ApplicationError):
    """An event that did not finish within CHAT_EVENT_TIMEOUT_SECONDS (a hung database, the ORM's thread
    stuck behind such a call): answered `server_error`. A createMessage that is answered so may still be
    stored once the database answers; sent again with its `clientMessageId`, it is stored once."""

    default_message = "The server could not answer in time: try again."


class SessionEnded(Unauthorized):
    """The socket's identity is over (its token expired, its user was deactivated): the event is
    answered `unauthorized` and then the server disconnects the socket (CONTRACT §2)."""


EventHandler = Callable[[str, dict], Awaitable[object]]


async def _answer_error(sid: str, event: str, exc: BaseException):
    """The error answer of CONTRACT §4: the ack, or an `exception` emit when no ack was asked."""
    answer = error_answer(exc, event)
    if isinstance(exc, SessionEnded):
        disconnect_after_answer.set(True)
    if ack_requested.get():
        return answer
    try:
        await sio.emit("exception", {**answer, "event": event}, to=sid)
    except Exception:  # noqa: BLE001 - the socket went away meanwhile
        logger.debug("could not report exception to %s", sid)
    return None


def on(event: str, *, doc: ClientEvent | None = None, ordered: bool = False, payload_required: bool = True):
    """Register a client event handler that always answers.

    The handler gets `(sid, payload)` where payload is a dict (anything else is `invalid`). Its return
    value is the ack. An `ApplicationError` becomes `{error, code}`; anything else is logged with its
    traceback and becomes `server_error`: an escaping exception would leave the client without an ack.
    Without an ack callback, errors go to the socket as `exception` with the event name.

    At most CHAT_MAX_EVENTS_IN_FLIGHT events of one socket are handled at once; the rest wait their
    turn in arrival order, so that one flooding socket holds at most that many places in the ORM's
    queue and other users are not slowed down (CONTRACT §11).

    `ordered=True` runs the socket's events of that kind one at a time in arrival order, so that one
    sender's messages are stored and broadcast in the order they were sent.

    Every event answers within CHAT_EVENT_TIMEOUT_SECONDS, its wait for a slot included: past it the
    handling is cancelled and the answer is `server_error` (EventTimedOut), so that a stuck database
    call cannot leave the events queued behind it without an answer. During a graceful stop new events
    are answered `server_error` at once (chat/sockets/shutdown.py).

    `doc` is the event's entry in the registry (chat/sockets/registry.py), which /docs/ and
    /api/asyncapi.json are made from; a handler without one fails tests/docs.
    """
    if doc is not None:
        register_client(event, doc)

    def decorator(fn: EventHandler):
        async def _run(sid, payload):
            state = await _socket_state(sid)
            async with state.slots:
                if ordered:
                    async with state.order:
                        return await fn(sid, payload)
                return await fn(sid, payload)

        @wraps(fn)
        async def handler(sid, *args):
            payload = args[0] if args else None
            try:
                if payload is TOO_DEEP:
                    raise Invalid(f"The payload is nested deeper than {MAX_PAYLOAD_DEPTH} levels.")
                if payload is None and not payload_required:
                    payload = {}
                if not isinstance(payload, dict):
                    raise Invalid("The event payload must be an object.")
                admission.refuse_if_stopping()
                async with asyncio.timeout(settings.CHAT_EVENT_TIMEOUT_SECONDS):  # a timer, no task of its own
                    return await _run(sid, payload)
            except TimeoutError:
                _timeouts.note(event, sid)
                return await _answer_error(sid, event, EventTimedOut())
            except Exception as exc:  # noqa: BLE001 - the one place that turns every failure into an answer
                if isinstance(exc, DatabaseError):
                    _drop_broken_connection()
                return await _answer_error(sid, event, exc)

        sio.on(event, handler)
        return fn

    return decorator


@sio.on("*")
async def unknown_event(event: str, sid: str, *args):
    """Every event nobody handles is answered, so that a client never waits for an ack in vain; a
    client event named like a reserved one (renamed by ChatPacket) has no other effect."""
    if event.startswith("reserved:"):
        name = event.removeprefix("reserved:")
        error = Invalid(f'"{name}" is a reserved event name; a client cannot send it.')
    else:
        error = Invalid(f'Unknown event "{event[:100]}".')
    return await _answer_error(sid, event[:100], error)


@dataclass
class SocketState:
    """Per-socket concurrency state, kept in the Socket.IO session."""

    slots: asyncio.Semaphore  # events of this socket being handled
    order: asyncio.Lock  # the `ordered` events of this socket, one at a time


async def _socket_state(sid: str) -> SocketState:
    try:
        session = await sio.get_session(sid)
        state = session.get("state")
        if state is None:
            async with sio.session(sid) as session:
                state = session.get("state")
                if state is None:
                    state = session["state"] = SocketState(
                        slots=asyncio.Semaphore(settings.CHAT_MAX_EVENTS_IN_FLIGHT), order=asyncio.Lock()
                    )
    except KeyError as exc:
        raise Unauthorized("This socket has disconnected.") from exc
    return state
