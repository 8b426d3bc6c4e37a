"""A slow Redis holds up only the events that wait for it (issue 8: no blocking I/O on the event loop).

A real server process whose Redis (presence, viewing, rate limits, python-socketio's manager) sits behind
a TCP proxy that holds every reply for 200 ms. While socket B keeps joining a room and sending messages
(each waits on Redis: presence, viewing, the rate limit), socket A asks for history (no Redis on its
path): A's answers stay quick. With presence or the limiter called synchronously on the loop, every one
of A's answers that overlapped one of B's Redis calls would wait for it.

Bounds are relative and generous: each of B's calls takes at least one proxy delay; A's median is well
under a quarter of it, and even A's slowest is faster than B's fastest.
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid

import aiohttp
import pytest
import socketio

from chat.tokens import issue_token
from tests.conftest import Client
from tests.sockets.redis_servers import SlowRedisProxy, guarded_servers

pytestmark = [pytest.mark.redis, pytest.mark.own_sqlite, pytest.mark.timeout(120)]

DELAY = 0.2


async def timed(coro) -> tuple[float, object]:
    started = time.perf_counter()
    answer = await coro
    return time.perf_counter() - started, answer


async def test_one_sockets_events_are_not_held_up_while_anothers_state_calls_wait(tmp_path, redis_url):
    proxy = SlowRedisProxy(delay=DELAY).start()
    try:
        slow_url = f"redis://127.0.0.1:{proxy.port}/{redis_url.rsplit('/', 1)[1]}"
        with guarded_servers(
            tmp_path, redis_url=redis_url, server_redis_urls=[slow_url], CHAT_RATE_LIMIT="1000/10s"
        ) as (servers, _guard_log, _channel):
            [server] = servers
            ids = [str(uuid.uuid4()) for _ in range(3)]
            a = await Client(server.url).connect(user_id=ids[0], token=issue_token(ids[0], name="A"))
            b = await Client(server.url).connect(user_id=ids[1], token=issue_token(ids[1], name="B"))
            try:
                a_chat = (await a.call("joinRoom", {"otherUserId": ids[2]}, timeout=10))["chatHeaderId"]
                for i in range(3):
                    message = {"chatHeaderId": a_chat, "message": f"m{i}", "messageType": 0}
                    await a.call("createMessage", message, timeout=10)
                b_chat = (await b.call("joinRoom", {"otherUserId": ids[2]}, timeout=10))["chatHeaderId"]

                b_times: list[float] = []
                a_times: list[float] = []

                async def b_keeps_waiting_on_redis() -> None:
                    for i in range(4):
                        took, answer = await timed(b.call("joinRoom", {"chatHeaderId": b_chat}, timeout=10))
                        assert answer["joined"] is True, answer
                        b_times.append(took)
                        message = {"chatHeaderId": b_chat, "message": f"b{i}", "messageType": 0}
                        took, answer = await timed(b.call("createMessage", message, timeout=10))
                        assert "chatMessage" in answer, answer
                        b_times.append(took)

                async def a_reads_history() -> None:
                    await asyncio.sleep(DELAY / 4)  # B's first call is waiting on Redis by now
                    while not b_done.done():
                        took, answer = await timed(a.call("findAllMessages", {"chatHeaderId": a_chat}))
                        assert answer["totalCount"] == 3, answer
                        a_times.append(took)
                        await asyncio.sleep(0.02)

                b_done = asyncio.ensure_future(b_keeps_waiting_on_redis())
                await asyncio.gather(b_done, a_reads_history())
            finally:
                await a.disconnect()
                await b.disconnect()
    finally:
        proxy.stop()

    assert min(b_times) >= DELAY * 0.9, b_times  # B really waited on the slow Redis every time
    assert len(a_times) >= 10, a_times  # A asked again and again while B waited
    assert statistics.median(a_times) < DELAY / 4, a_times
    assert max(a_times) < min(b_times), (a_times, b_times)


async def test_emits_to_a_room_keep_their_order_while_a_skip_list_is_looked_up(tmp_path, redis_url):
    """A read hidden from a blocked member needs that member's sockets (a Redis lookup, slow here) before
    it can leave; an edit right after it needs nothing. The others in the room still hear the read
    first: each emit to a room begins only after the room's previous one has."""
    proxy = SlowRedisProxy(delay=DELAY).start()
    try:
        slow_url = f"redis://127.0.0.1:{proxy.port}/{redis_url.rsplit('/', 1)[1]}"
        # Reads and edits unlimited: the edit then waits on nothing, and the read only on its skip list.
        unlimited = {"CHAT_RATE_LIMIT_READS": "0", "CHAT_RATE_LIMIT_EDITS": "0"}
        running = guarded_servers(tmp_path, redis_url=redis_url, server_redis_urls=[slow_url], **unlimited)
        with running as (servers, _log, _channel):
            [server] = servers
            ids = [str(uuid.uuid4()) for _ in range(3)]
            tokens = [issue_token(uid, name=name) for uid, name in zip(ids, ("A", "B", "C"), strict=True)]
            a = await Client(server.url).connect(user_id=ids[0], token=tokens[0])
            c = await Client(server.url).connect(user_id=ids[2], token=tokens[2])
            heard: list[str] = []  # B's events in arrival order, whatever their names
            b = socketio.AsyncClient(reconnection=False)

            @b.on("*")
            async def record(event, *args):
                heard.append(event)

            await b.connect(f"{server.url}?userId={ids[1]}", auth={"accessToken": tokens[1]}, transports=["websocket"])
            try:
                async with aiohttp.ClientSession() as http:
                    headers = {"Authorization": f"Bearer {tokens[0]}"}
                    body = {"name": "G", "memberIds": [ids[1], ids[2]]}
                    async with http.post(f"{server.url}/api/chat/groups", json=body, headers=headers) as response:
                        group = (await response.json())["data"]["id"]
                    headers = {"Authorization": f"Bearer {tokens[2]}"}
                    async with http.post(f"{server.url}/api/friendships/{ids[0]}/block", headers=headers) as response:
                        assert response.status == 201
                for joiner in (a.call, c.call, b.call):
                    assert (await joiner("joinRoom", {"chatHeaderId": group}, timeout=10))["joined"] is True
                message = {"chatHeaderId": group, "message": "m", "messageType": 0}
                sent = (await a.call("createMessage", message, timeout=10))["chatMessage"]
                # The ack to A and the broadcast to B race: wait for B's copy before listening afresh.
                deadline = time.monotonic() + 10
                while "message" not in heard and time.monotonic() < deadline:
                    await asyncio.sleep(0.01)
                heard.clear()
                await a.call("readMessage", {"chatHeaderId": group}, timeout=10)  # hidden from C: a lookup
                edit = {"chatHeaderId": group, "id": sent["id"], "message": "m2"}
                await a.call("updateMessage", edit, timeout=10)  # nothing to look up
                deadline = time.monotonic() + 10
                while "messageUpdated" not in heard and time.monotonic() < deadline:
                    await asyncio.sleep(0.01)
            finally:
                await a.disconnect()
                await c.disconnect()
                await b.disconnect()
    finally:
        proxy.stop()
    # The read moved A's delivered mark too (CONTRACT §9): messageDelivered, hidden from C as well.
    assert heard == ["messageHasBeenRead", "messageRead", "messageDelivered", "messageUpdated"], heard
