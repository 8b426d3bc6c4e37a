"""Room emits without one task per recipient (issue 9, fan-out).

python-socketio's `AsyncManager.emit` encodes a room emit once, then creates one task per recipient,
each awaiting `AsyncSocket.send`, which checks the socket's ping and puts the packet on the socket's
queue, and awaits them all. Creating, scheduling and collecting those tasks was most of the cost of a
broadcast to a 100-member group. Here the shared packet goes straight onto each socket's queue (the
same `put` as `send`, without yielding: Engine.IO's queues are unbounded in length, and bounded in bytes
by `chat.sockets.backpressure.OutgoingQueue`, whose `put_nowait` applies that bound). A socket that is
closed or whose client stopped pinging takes python-socketio's own path, which closes it as before.

Below the queue, each packet cost a wake-up of the socket's writer task, Engine.IO's `wait_for` around its
queue (a task and a timer on Python 3.11), the packet's encoding, an ASGI `send` and a WebSocket frame
built for that one socket. The frame of a room emit is the same for every member, so it is built once, and
a member whose writer is idle gets it written straight to its connection (`backpressure.send_now`); a
member with packets queued or in flight, on long-polling, or behind a paused transport gets it on its
queue as before, in order.
"""

from __future__ import annotations

import asyncio
import logging
import time

import socketio
from engineio import packet as eio_packet
from socketio import packet

from chat.sockets.backpressure import message_frame, ping_overdue, send_now
from chat.state.pubsub import BoundedReconnect  # its listener retries every REDIS_RETRY_SECONDS

logger = logging.getLogger("chat.sockets")


class DirectEmit:
    """The room-emit fast path, for a python-socketio manager (mixed in before it)."""

    async def emit_many(self, emits: list[tuple]) -> None:
        """`(event, data, room, skip_sid)` emits to rooms of namespace "/", without callbacks, delivered
        here in order (chat.events hands a group commit's announcements over this way)."""
        for event, data, room, skip_sid in emits:
            await self._emit_one(event, data, room, skip_sid)

    async def _emit_one(self, event, data, room, skip_sid) -> None:
        """One emit of a run: a failure (a socket that broke meanwhile) does not stop the others."""
        try:
            await self._emit_here(event, data, "/", room, skip_sid)
        except Exception:
            logger.exception("failed to deliver %s to %s", event, room)

    async def _emit_here(self, event, data, namespace, room, skip_sid) -> None:
        """Deliver to this process's sockets in `room`, as `AsyncManager.emit` does without a callback."""
        if namespace not in self.rooms:
            return
        if isinstance(data, tuple):
            data = list(data)
        elif data is not None:
            data = [data]
        else:
            data = []
        skip = set(skip_sid) if isinstance(skip_sid, list) else {skip_sid}
        encoded = self.server.packet_class(packet.EVENT, namespace=namespace, data=[event, *data]).encode()
        if not isinstance(encoded, list):
            encoded = [encoded]
        eio_packets = [eio_packet.Packet(eio_packet.MESSAGE, part) for part in encoded]
        # One frame fits all (a packet with binary attachments is several, and is queued).
        frame = message_frame(encoded[0]) if len(encoded) == 1 and isinstance(encoded[0], str) else None
        eio = self.server.eio
        now = time.time()
        slow = []
        for sid, eio_sid in self.get_participants(namespace, room):
            if sid in skip:
                continue
            socket = eio.sockets.get(eio_sid)
            if socket is None or socket.closed:
                continue  # gone meanwhile: `send_packet` would only log that it cannot send
            if ping_overdue(socket, now):
                # Its client stopped pinging: `send` closes it (the disconnect handler runs).
                slow.extend(asyncio.create_task(socket.send(part)) for part in eio_packets)
                continue
            if frame is not None and send_now(socket, frame):
                continue
            for part in eio_packets:
                socket.queue.put_nowait(part)
        if slow:
            await asyncio.wait(slow)


class ChatManager(DirectEmit, socketio.AsyncManager):
    """One process: every emit is delivered here."""

    async def emit(self, event, data, namespace, room=None, skip_sid=None, callback=None, to=None, **kwargs):
        if callback is not None:
            return await super().emit(
                event, data, namespace, room=room, skip_sid=skip_sid, callback=callback, to=to, **kwargs
            )
        await self._emit_here(event, data, namespace, to or room, skip_sid)


# The room of a published batch of emits (`ChatRedisManager.emit_many`). No socket is ever in it: a
# worker that does not know batches (an older version during a rolling restart) delivers the batch to
# nobody instead of broadcasting it.
BATCH_ROOM = "chat:batch-of-emits"


class ChatRedisManager(BoundedReconnect, DirectEmit, socketio.AsyncRedisManager):
    """Several workers: an emit is delivered to this worker's sockets, then published on the channel,
    and every other worker delivers it to its own sockets when it hears it (python-socketio's way).

    `emit_many` does the same for a group commit's announcements: each is delivered here in order, then
    all of them go out as one published message (one PUBLISH, and one message for each other worker to
    read and parse, instead of one per emit); the batches of one worker are published one after another,
    in order."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._publishing = asyncio.Lock()

    async def emit_many(self, emits: list[tuple]) -> None:
        await super().emit_many(emits)
        batch = [{"event": e, "data": d, "room": r, "skip_sid": s} for e, d, r, s in emits]
        async with self._publishing:
            message = {"method": "emit", "event": "batch", "data": [batch], "binary": False, "namespace": "/"}
            message.update(room=BATCH_ROOM, skip_sid=None, callback=None, host_id=self.host_id)
            await self._publish(message)

    async def _handle_emit(self, message):
        if message.get("room") == BATCH_ROOM and message.get("host_id") != self.host_id:
            (batch,) = message["data"]
            for emit in batch:
                await self._emit_one(emit["event"], emit["data"], emit["room"], emit["skip_sid"])
            return
        if message.get("callback") is not None or message.get("binary"):
            return await super()._handle_emit(message)
        data = message["data"]
        if isinstance(data, list):
            data = data[0] if len(data) == 1 else tuple(data)
        await self._emit_here(
            message["event"], data, message.get("namespace") or "/", message.get("room"), message.get("skip_sid")
        )
