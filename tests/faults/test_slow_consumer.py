"""A client that stops reading (issue 14, row 6).

Three members of a group: Sam sends large messages, Olga reads them, Stan's raw WebSocket client stops
reading (its receive buffer made small, so the kernel holds little for it). Then:

- past CHAT_SOCKET_MAX_QUEUED_BYTES of data waiting for Stan, the server disconnects Stan and closes his
  TCP connection, while Sam's acks and Olga's copies keep coming, every one of them;
- with a bound too large to be reached, Stan's session ends at the Engine.IO ping timeout instead, and
  his TCP connection is closed then (it was held for ever: uvicorn's close waits to flush a buffer
  nobody reads);
- either way his disconnect handler runs to its end: his contacts hear he went offline, his `lastSeen`
  is set, and it never fails with asgiref's "Single thread executor already being used, would deadlock"
  (when a broadcast notices the ping timeout, the disconnect runs inside that broadcast's task).
"""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import time

import pytest

from tests.faults.conftest import User, rest, text_message
from tests.faults.harness import migrate, server_env, start_server, tcp_connection_open
from tests.sockets.raw_socket import RawSocket

pytestmark = pytest.mark.timeout(120)

BIG = 400_000  # characters per message: a few dozen overflow any kernel buffer


@pytest.fixture(scope="module")
def sqlite_env(work_dir):
    env = server_env(f"sqlite:///{work_dir / 'db.sqlite3'}", work_dir, CHAT_MAX_MESSAGE_LENGTH=str(BIG),
                     SOCKETIO_MAX_HTTP_BUFFER_SIZE=str(2 * BIG))  # fmt: skip
    migrate(env)
    return env


async def stalled(url: str, user: User) -> tuple[RawSocket, int]:
    """A raw socket of `user` that reads nothing from now on; and its local TCP port."""
    raw = await RawSocket(url).connect(user_id=user.id, token=user.token)
    transport = raw._ws._response.connection.transport
    sock = transport.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    return raw, sock.getsockname()[1]


def stop_reading(raw: RawSocket) -> None:
    raw._reader.cancel()  # nothing reads the WebSocket any more: aiohttp stops reading the TCP socket
    raw._ws._response.connection.transport.pause_reading()


async def group_of(url: str, owner: User, *members: User) -> int:
    status, body = await rest(url, "POST", "/api/chat/groups", owner,
                              {"name": "Slow", "memberIds": [m.id for m in members]})  # fmt: skip
    assert status == 201, body
    return body["data"]["id"]


def last_seen(env: dict, user: User):
    path = env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        row = db.execute("SELECT last_seen FROM chat_user WHERE id = ?", (user.id.replace("-", ""),)).fetchone()
        if row is None:
            row = db.execute("SELECT last_seen FROM chat_user WHERE id = ?", (user.id,)).fetchone()
    return row[0] if row else None


async def until(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {seconds} s: {what}")


async def scenario(env: dict, log, connect, *, messages: int, trickle: float):
    """Sam floods the group while Stan reads nothing, then trickles small messages for `trickle` s.
    Returns Olga's client, Stan's raw socket and its port, the server, the ids Sam got acked, Stan."""
    server = start_server(env, log)
    sam, olga, stan = User("Sam"), User("Olga"), User("Stan")
    chat_id = await group_of(server.url, sam, olga, stan)
    s = await connect(server.url, sam)
    o = await connect(server.url, olga)
    raw, port = await stalled(server.url, stan)
    for client in (s, o):
        assert (await client.call("joinRoom", {"chatHeaderId": chat_id}))["joined"] is True
    assert (await raw.call_event("joinRoom", {"chatHeaderId": chat_id}))[0]["joined"] is True
    await o.received("clientStatus", 1)  # Stan online, seen by Olga
    stop_reading(raw)
    acked = []
    for n in range(messages):
        ack = await s.call("createMessage", text_message(chat_id, f"{n} " + "x" * (BIG - 10)), timeout=10)
        acked.append(ack["chatMessage"]["id"])
    end = time.monotonic() + trickle
    while time.monotonic() < end:
        ack = await s.call("createMessage", text_message(chat_id, "tick"), timeout=10)
        acked.append(ack["chatMessage"]["id"])
        await asyncio.sleep(0.1)
    return o, raw, port, server, acked, stan


def offline(client, user: User) -> bool:
    return any(e["userId"] == user.id and not e["activeNow"] for e in client.events["clientStatus"])


async def test_past_its_bound_a_slow_consumer_is_cut_off_and_nobody_else_notices(sqlite_env, work_dir, connect):
    env = {**sqlite_env, "CHAT_SOCKET_MAX_QUEUED_BYTES": str(2 * 1024 * 1024)}
    o, raw, port, server, acked, stan = await scenario(env, work_dir / "bound.log", connect, messages=40, trickle=0)
    try:
        await until(lambda: not tcp_connection_open(port, server.port), 10, "Stan's TCP connection closed")
        await o.until(lambda: offline(o, stan), timeout=10, what="Stan announced offline")
        # Olga, who reads, got every message, in order.
        await o.until(lambda: len(o.events["message"]) >= len(acked), timeout=20, what="every message")
        assert [m["chatMessage"]["id"] for m in o.events["message"]] == acked
        assert last_seen(env, stan) is not None
        log = (work_dir / "bound.log").read_text()
        assert "does not read" in log and "would deadlock" not in log
    finally:
        await raw.close()
        server.stop()


async def test_a_slow_consumer_whose_session_ends_loses_its_connection_too(sqlite_env, work_dir, connect):
    env = {**sqlite_env, "CHAT_SOCKET_MAX_QUEUED_BYTES": str(512 * 1024 * 1024),
           "SOCKETIO_PING_INTERVAL": "1", "SOCKETIO_PING_TIMEOUT": "1"}  # fmt: skip
    o, raw, port, server, acked, stan = await scenario(env, work_dir / "ping.log", connect, messages=30, trickle=4)
    try:
        await until(lambda: not tcp_connection_open(port, server.port), 10, "Stan's TCP connection closed")
        await o.until(lambda: offline(o, stan), timeout=10, what="Stan announced offline")
        await o.until(lambda: len(o.events["message"]) >= len(acked), timeout=20, what="every message")
        assert [m["chatMessage"]["id"] for m in o.events["message"]] == acked
        assert last_seen(env, stan) is not None
        assert "would deadlock" not in (work_dir / "ping.log").read_text()
    finally:
        await raw.close()
        server.stop()
