"""Slow consumers (README, "Failure modes"): a client that stops reading must cost a bounded amount of
memory, lose its session, and lose its TCP connection, without touching anybody else.

Where the data piles up: each Engine.IO socket has an unbounded `asyncio.Queue` of packets that one
writer task sends into the WebSocket. Once the peer stops reading, the kernel's buffers fill, uvicorn
pauses the writer (its transport is above the high-water mark), and every packet for that socket (each
broadcast to a room it is in) waits in the queue, for ever. Three things here:

- `OutgoingQueue` (Engine.IO's queue, made by `EngineIOServer.create_queue`) counts the bytes it holds;
  past CHAT_SOCKET_MAX_QUEUED_BYTES it drops what it holds and takes nothing more, and its socket is
  closed (the Socket.IO disconnect handler runs) and its connection aborted. A single packet larger than
  the bound alone in the queue does not count as too much: it is one answer, on its way.
- `ConnectionGuard` (ASGI middleware) remembers each WebSocket connection's transport, so that the
  connection can be aborted (RST). Closing is not enough: uvicorn's `transport.close()` waits to flush a
  write buffer that a peer that does not read never empties, and the connection stayed open for ever
  (one held 3.8 MB 290 s after its session had ended). ASGI offers no way to abort a connection; the
  transport is reached through uvicorn's protocol object, the owner of the `send` callable (every uvicorn
  WebSocket implementation keeps it as `transport`); without one the guard does nothing.
- `session_ended()`: when an Engine.IO session ends for any reason (ping timeout, server disconnect,
  overflow), its connection is aborted `CLOSE_GRACE` seconds later unless it closed by then.

The same handle on the connection makes sending cheap (issue 9): `send_now` writes an Engine.IO packet's
WebSocket frame straight to the transport, as uvicorn's `send` would write it, when the socket's writer
is idle (`OutgoingQueue.idle`: nothing queued, nothing in flight), so that order holds. A room emit builds
its frame once for all its members (chat.sockets.managers); an answer is written from its handler's own
step (chat.sockets.server). Otherwise (a packet queued or in flight, long-polling, an upgrade under way, a
paused transport, a server other than uvicorn with its default WebSocket implementation) packets take
Engine.IO's queue and writer task as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import socket
import struct
from urllib.parse import parse_qs

import engineio
from django.conf import settings
from websockets.frames import Frame, Opcode
from websockets.protocol import OPEN, Protocol

logger = logging.getLogger("chat.sockets")

# Seconds a connection whose session ended may take to close by itself (the client reads the close
# packet and hangs up) before it is aborted.
CLOSE_GRACE = 2.0

_closing: set[asyncio.Task] = set()  # closes under way (a task needs a reference until it is done)
_connection: contextvars.ContextVar[Connection | None] = contextvars.ContextVar("ws_connection", default=None)


# What `Connection.write_now` reads of uvicorn's `WebSocketsSansIOProtocol` (its default WebSocket
# implementation since 0.50): the same checks its `send` makes before it writes a text frame.
_SANSIO_ATTRIBUTES = (
    "conn",
    "transport",
    "writable",
    "disconnected",
    "close_sent",
    "handshake_complete",
    "initial_response",
)


def message_frame(data: str) -> bytes:
    """The WebSocket frame of an Engine.IO message packet of `data` (an encoded Socket.IO packet): a
    server's frame is unmasked, and uncompressed it is the same for every client."""
    return Frame(Opcode.TEXT, f"4{data}".encode()).serialize(mask=False)


def ping_overdue(eio_socket, now: float) -> bool:
    """Its client did not answer the last ping within the ping timeout: Engine.IO's `send` closes it."""
    last_ping = eio_socket.last_ping
    return bool(last_ping) and now - last_ping > eio_socket.server.ping_timeout


def send_now(eio_socket, frame: bytes) -> bool:
    """Write a `message_frame` to `eio_socket`'s client at once, past its queue and writer task, where
    that keeps the socket's order; False where not (the caller queues the packet). Only for an open
    socket whose ping is not overdue: the caller checks (`ping_overdue`), as a socket that is overdue
    must go through `AsyncSocket.send`, which closes it."""
    if not eio_socket.upgraded or eio_socket.upgrading:
        return False
    queue = eio_socket.queue
    connection = getattr(queue, "connection", None)
    if connection is None or not queue.idle:
        return False
    return connection.write_now(frame)


class Connection:
    """One WebSocket connection of uvicorn's, as far as aborting it and writing to it directly go."""

    def __init__(self, send) -> None:
        self._protocol = getattr(send, "__self__", None)
        self.finished = False
        protocol = self._protocol
        self._direct = (
            all(hasattr(protocol, name) for name in _SANSIO_ATTRIBUTES)
            and isinstance(protocol.conn, Protocol)
            and all(hasattr(protocol.conn, name) for name in ("state", "extensions", "expect_continuation_frame"))
        )

    def write_now(self, frame: bytes) -> bool:
        """Write a `message_frame` to the client at once, where uvicorn's `send` would write it without waiting:
        the handshake done, the connection open, no close sent, no extension (per-message deflate) that
        would change the frame, and the transport not paused by a full buffer. False where it would not (the
        caller queues the packet instead)."""
        if not self._direct:
            return False
        protocol = self._protocol
        conn = protocol.conn
        if (
            not protocol.writable.is_set()
            or protocol.disconnected
            or protocol.close_sent
            or not protocol.handshake_complete
            or protocol.initial_response is not None
            or conn.state is not OPEN
            or conn.extensions
            or conn.expect_continuation_frame
        ):
            return False
        transport = protocol.transport
        if transport.is_closing():
            return False
        transport.write(frame)
        return True

    def abort(self) -> None:
        transport = getattr(self._protocol, "transport", None)
        if transport is None or not hasattr(transport, "abort"):
            return
        sock = transport.get_extra_info("socket")
        if sock is None or sock.fileno() < 0:
            return  # closed already
        # A reset, not a close: a closed socket with unsent data stays in the kernel (FIN_WAIT1 behind a
        # zero window) and the peer still sees the connection open.
        with contextlib.suppress(OSError, ValueError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()

    def abort_later(self, delay: float) -> None:
        asyncio.get_running_loop().call_later(delay, self.abort)


class ConnectionGuard:
    """ASGI middleware: gives each WebSocket connection's Engine.IO socket a way to abort it."""

    def __init__(self, app, eio_server: engineio.AsyncServer) -> None:
        self.app = app
        self.eio_server = eio_server

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            return await self.app(scope, receive, send)
        connection = Connection(send)
        token = _connection.set(connection)
        try:
            # A socket that began on long-polling and upgrades: its queue was made by an HTTP request.
            eio_sid = (parse_qs(scope.get("query_string", b"").decode("latin-1")).get("sid") or [None])[0]
            if eio_sid is not None:
                eio_socket = self.eio_server.sockets.get(eio_sid)
                if eio_socket is not None and isinstance(eio_socket.queue, OutgoingQueue):
                    eio_socket.queue.connection = connection
            return await self.app(scope, receive, send)
        finally:
            connection.finished = True
            _connection.reset(token)


def _size(item) -> int:
    """The bytes a packet takes on the wire: a str is sent as UTF-8, up to 4 bytes a character (counting
    characters let an Arabic or emoji flood pile up to 4x the bound); ASCII, the usual case, is not encoded."""
    data = getattr(item, "data", None)
    if isinstance(data, str):
        return len(data) if data.isascii() else len(data.encode())
    if isinstance(data, bytes):
        return len(data)
    return 16


class OutgoingQueue(asyncio.Queue):
    """Engine.IO's per-socket send queue, bounded in bytes (see the module docstring)."""

    def __init__(self, server: EngineIOServer, limit: int) -> None:
        super().__init__()
        self.server = server
        self.limit = limit
        self.nbytes = 0
        self.overflowed = False
        self.connection = _connection.get()
        self._waiting = 0  # writers parked in `get` on an empty queue

    @property
    def idle(self) -> bool:
        """Its writer waits for a packet: nothing is queued and nothing taken from here is being sent, so a
        packet written past the queue now reaches the client in order."""
        return self._waiting > 0 and self.empty() and not self.overflowed

    async def get(self):
        if not self.empty():
            return self.get_nowait()
        self._waiting += 1
        try:
            return await super().get()
        finally:
            self._waiting -= 1

    def _put(self, item) -> None:
        super()._put(item)
        self.nbytes += _size(item)

    def _get(self):
        item = super()._get()
        self.nbytes -= _size(item)
        return item

    def put_nowait(self, item) -> None:
        if self.overflowed:
            return  # its socket is being closed: nothing more is sent to it
        super().put_nowait(item)
        if self.nbytes > self.limit and self.qsize() > 1:
            self._overflow()

    def _overflow(self) -> None:
        self.overflowed = True
        dropped = self.nbytes
        while not self.empty():
            self.get_nowait()
            self.task_done()
        super().put_nowait(None)  # a writer that gets back to its queue stops
        eio_socket = next((s for s in list(self.server.sockets.values()) if s.queue is self), None)
        logger.warning(
            "socket %s does not read: %d bytes waited for it (CHAT_SOCKET_MAX_QUEUED_BYTES=%d); disconnecting it",
            getattr(eio_socket, "sid", "?"),
            dropped,
            self.limit,
        )
        if self.connection is not None:
            self.connection.abort()
        if eio_socket is not None:
            loop = asyncio.get_running_loop()
            # Its own task, in a fresh context: the disconnect handler hops to the ORM's thread, and
            # whoever was sending here (a broadcast) may be any task.
            task = loop.create_task(
                eio_socket.close(wait=False, abort=True, reason=self.server.reason.TRANSPORT_ERROR),
                context=contextvars.Context(),
            )
            _closing.add(task)
            task.add_done_callback(_closing.discard)


class EngineIOServer(engineio.AsyncServer):
    """Engine.IO's server, its sockets' queues bounded (`OutgoingQueue`)."""

    def create_queue(self, *args, **kwargs):
        if args or kwargs:
            return super().create_queue(*args, **kwargs)
        return OutgoingQueue(self, settings.CHAT_SOCKET_MAX_QUEUED_BYTES)


def session_ended(eio_server: engineio.AsyncServer, eio_sid: str) -> None:
    """An Engine.IO session is over: its connection is aborted unless it closes by itself soon."""
    eio_socket = eio_server.sockets.get(eio_sid)
    queue = getattr(eio_socket, "queue", None)
    connection = getattr(queue, "connection", None)
    if connection is not None:
        connection.abort_later(CLOSE_GRACE)
