"""A Socket.IO client that speaks the wire protocol by hand (Engine.IO 4 over a WebSocket), for the
packets a well-behaved client library refuses to send: reserved event names, forged environs, broken
binary packets, payloads nested thousands deep.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json

import aiohttp


class RawSocket:
    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.replace("http://", "ws://")
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task | None = None
        self._ids = itertools.count(1)
        self._acks: dict[int, asyncio.Future] = {}
        self.events: list[list] = []  # every server event, as [name, *args]
        self.frames: list[str] = []  # every text frame from the server, in arrival order
        self.closed = asyncio.Event()  # the server disconnected the namespace or closed the connection
        self.sid: str | None = None

    async def connect(self, *, user_id, token: str | None = None) -> RawSocket:
        self._session = aiohttp.ClientSession()
        url = f"{self.base_url}/socket.io/?EIO=4&transport=websocket&userId={user_id}"
        self._ws = await self._session.ws_connect(url)
        opening = await self._ws.receive_str(timeout=5)
        assert opening.startswith("0"), opening
        await self._ws.send_str("40" + json.dumps({"accessToken": token} if token else {}))
        answer = await self._ws.receive_str(timeout=5)
        assert answer.startswith("40"), answer
        self.sid = json.loads(answer[2:])["sid"]
        self._reader = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        assert self._ws is not None
        try:
            async for message in self._ws:
                if message.type != aiohttp.WSMsgType.TEXT:
                    continue
                data = message.data
                self.frames.append(data)
                if data == "2":
                    await self._ws.send_str("3")
                elif data == "1" or data.startswith("41"):
                    break  # Engine.IO close, or the namespace disconnected
                elif data.startswith("42"):
                    self.events.append(json.loads(data[2:]))
                elif data.startswith("43"):
                    digits = len(data) - len(data[2:].lstrip("0123456789")) - 2
                    ack_id, body = int(data[2 : 2 + digits]), json.loads(data[2 + digits :])
                    future = self._acks.pop(ack_id, None)
                    if future is not None and not future.done():
                        future.set_result(body)
        finally:
            self.closed.set()

    async def send(self, packet: str | bytes) -> None:
        """Send one Engine.IO message as it is: text is a Socket.IO packet, bytes an attachment."""
        assert self._ws is not None
        if isinstance(packet, bytes):
            await self._ws.send_bytes(packet)
        else:
            await self._ws.send_str(packet)

    async def call(self, event_json: str, timeout: float = 5, attachments: list[bytes] = ()) -> list:
        """Send `42<id><event_json>` (event_json: the JSON array of name and arguments, as text), or
        a binary event with `attachments`, and return the acknowledgement's arguments."""
        ack_id = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._acks[ack_id] = future
        if attachments:
            await self.send(f"45{len(attachments)}-{ack_id}{event_json}")
            for attachment in attachments:
                await self.send(attachment)
        else:
            await self.send(f"42{ack_id}{event_json}")
        return await asyncio.wait_for(future, timeout)

    async def call_event(self, name: str, *args, timeout: float = 5) -> list:
        return await self.call(json.dumps([name, *args]), timeout=timeout)

    async def wait_closed(self, timeout: float = 5) -> bool:
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.closed.wait(), timeout)
        return self.closed.is_set()

    async def close(self) -> None:
        if self._ws is not None and not self._ws.closed:
            with contextlib.suppress(Exception):
                await self._ws.send_str("41")
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader
        if self._session is not None:
            await self._session.close()
