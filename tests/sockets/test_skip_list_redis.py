"""A block hides events by skipping a *list* of sockets (chat.services.blocks). With `REDIS_URL` set the
emit goes through python-socketio's Redis managers, and a skipped socket may live on another worker:
the list must travel in the pub/sub message and be honoured there.

Two real python-socketio servers on one real Redis channel, served by uvicorn; clients on both.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
import socketio
import uvicorn

from tests.conftest import Client
from tests.processes import free_port

pytestmark = pytest.mark.redis


async def _serve(redis_url: str, channel: str):
    sio = socketio.AsyncServer(async_mode="asgi", client_manager=socketio.AsyncRedisManager(redis_url, channel=channel))

    @sio.event
    async def connect(sid, environ, auth=None):
        await sio.enter_room(sid, "chat:1")

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(socketio.ASGIApp(sio), host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.01)
    return sio, server, task, f"http://127.0.0.1:{port}"


async def _until_both_listen(writer, clients: list[Client]) -> None:
    """Both managers listen on the channel once an emit through it reaches every client (then forgotten)."""
    for _ in range(100):
        writer.emit("ready", 0, namespace="/", room="chat:1")
        try:
            await asyncio.gather(*(client.received("ready", timeout=0.05) for client in clients))
        except AssertionError:
            continue
        for client in clients:
            client.clear()
        return
    raise AssertionError("the servers' managers never heard the channel")


async def test_a_skip_list_is_honoured_on_every_worker(redis_url):
    channel = f"test-skip-{uuid.uuid4().hex[:8]}"
    servers = [await _serve(redis_url, channel) for _ in range(2)]
    sio_a, url_a, url_b = servers[0][0], servers[0][3], servers[1][3]
    clients = [Client(url) for url in (url_a, url_a, url_b, url_b)]
    try:
        for client in clients:
            await client.connect(transports=("websocket",))
        # From a process without a server (chat.events' write-only manager), as a management command emits.
        writer = socketio.RedisManager(redis_url, channel=channel, write_only=True)
        await _until_both_listen(writer, clients)
        on_a_kept, on_a_skipped, on_b_kept, on_b_skipped = clients
        skip = [on_a_skipped.sio.get_sid("/"), on_b_skipped.sio.get_sid("/")]

        await sio_a.emit("typing", {"n": 1}, room="chat:1", skip_sid=skip)
        writer.emit("typing", {"n": 2}, namespace="/", room="chat:1", skip_sid=skip)

        for kept in (on_a_kept, on_b_kept):
            await kept.received("typing", 2, timeout=5)
        assert on_a_kept.events["typing"] == on_b_kept.events["typing"] == [{"n": 1}, {"n": 2}]
        # Then the same two ways again, skipping nobody: each socket gets a server's emits in order, and
        # the channel's messages in order, so once these have arrived, so would have the first two.
        await sio_a.emit("typing", {"n": 3}, room="chat:1")
        writer.emit("typing", {"n": 4}, namespace="/", room="chat:1")
        for client in clients:
            await client.until(lambda client=client: {"n": 4} in client.events["typing"], timeout=5)
        assert on_a_kept.events["typing"] == on_b_kept.events["typing"] == [{"n": i} for i in (1, 2, 3, 4)]
        assert on_a_skipped.events["typing"] == on_b_skipped.events["typing"] == [{"n": 3}, {"n": 4}]
    finally:
        for client in clients:
            await client.disconnect()
        for _, server, task, _ in servers:
            server.should_exit = True
            await task
