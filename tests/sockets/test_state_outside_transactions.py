"""No Redis call runs inside a database transaction (STYLE.md, "Seams"; issue 8).

A real server process with `REDIS_URL`, whose redis-py clients fail (and log) any command sent while a
database transaction is open in the calling thread, or while one is open further up the call (a thread
hop through asgiref): tests/sockets/state_guard.py. A flow over real sockets and REST, with every rate
limit on, touches every state-layer call site: connect, join (creating a chat), send (rate limit, who is
viewing, the push outbox), a retry, read, typing, edit, delete, leave, a block that hides reads and
typing in a group (skip lists), REST group create and add, a friend request, getChatHeaderAsync, the
list events, a member removed, disconnect. The guard's log must hold nothing but its own start line.
"""

from __future__ import annotations

import subprocess
import sys
import uuid

import aiohttp
import pytest

from chat.tokens import issue_token
from tests.conftest import Client
from tests.processes import REPO
from tests.sockets.redis_servers import channel_keys, guarded_servers
from tests.sockets.state_guard import INSTALLED

pytestmark = [pytest.mark.redis, pytest.mark.timeout(120)]


class Person:
    def __init__(self, name: str) -> None:
        self.id = str(uuid.uuid4())
        self.name = name
        self.token = issue_token(self.id, name=name)


def ok(answer):
    assert not (isinstance(answer, dict) and "code" in answer and "error" in answer), answer
    return answer


async def rest(session, server, person: Person, method: str, path: str, **kwargs):
    headers = {"Authorization": f"Bearer {person.token}"}
    async with session.request(method, f"{server.url}{path}", headers=headers, **kwargs) as response:
        body = await response.json()
        assert response.status < 300, (path, response.status, body)
        return body["data"]


def test_the_guard_refuses_redis_inside_a_transaction(tmp_path, redis_url):
    """The guard itself, in a process of its own: a command inside an atomic block fails, whether sent
    from that thread (sync client) or from the loop that `async_to_sync` hops to; outside it works."""
    code = f"""
import asyncio, django, os
os.environ["DJANGO_SETTINGS_MODULE"] = "chat_project.settings"
django.setup()
from tests.sockets import state_guard
state_guard.install()
import redis, redis.asyncio as aioredis
from asgiref.sync import async_to_sync
from django.db import transaction

async def ping():
    client = aioredis.Redis.from_url({redis_url!r})
    try:
        return await client.ping()
    finally:
        await client.aclose()

results = []
sync_client = redis.Redis.from_url({redis_url!r})
results.append(sync_client.ping())
results.append(async_to_sync(ping)())
for attempt in (sync_client.ping, async_to_sync(ping)):
    with transaction.atomic():
        try:
            attempt()
            results.append("sent")
        except state_guard.RedisInsideTransaction:
            results.append("refused")
print(results)
"""
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'guard.sqlite3'}", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[True, True, 'refused', 'refused']"


@pytest.mark.own_sqlite
async def test_no_redis_call_runs_inside_a_database_transaction(tmp_path, redis_url):
    with guarded_servers(
        tmp_path,
        redis_url=redis_url,
        # Every limit on (and none in the way): each call site of the limiter is exercised.
        CHAT_RATE_LIMIT="100/10s",
        CHAT_RATE_LIMIT_EDITS="100/10s",
        CHAT_RATE_LIMIT_TYPING="100/10s",
        CHAT_RATE_LIMIT_READS="100/10s",
        CHAT_RATE_LIMIT_NEW_CHATS="100/1min",
        CHAT_RATE_LIMIT_FRIEND_REQUESTS="100/1min",
    ) as (servers, guard_log, channel):
        [server] = servers
        alice, bob, carol, dave = (Person(n) for n in ("Alice", "Bob", "Carol", "Dave"))
        sockets: dict[str, Client] = {}
        for person in (alice, bob, carol):
            sockets[person.name] = await Client(server.url).connect(user_id=person.id, token=person.token)
        a, b, c = sockets["Alice"], sockets["Bob"], sockets["Carol"]
        try:
            async with aiohttp.ClientSession() as http:
                # One-to-one: created by joinRoom (a new chat), viewed by both, a message and its retry.
                chat_id = ok(await a.call("joinRoom", {"otherUserId": bob.id}))["chatHeaderId"]
                ok(await b.call("joinRoom", {"chatHeaderId": chat_id}))
                first = {"chatHeaderId": chat_id, "message": "hi", "messageType": 0, "clientMessageId": "k1"}
                sent = ok(await a.call("createMessage", first))["chatMessage"]
                assert ok(await a.call("createMessage", first))["chatMessage"]["id"] == sent["id"]
                ok(await b.call("readMessage", {"chatHeaderId": chat_id}))
                ok(await a.call("roomTyping", {"chatHeaderId": chat_id, "isTyping": True, "name": "A"}))
                ok(await a.call("roomTyping", {"chatHeaderId": chat_id, "isTyping": False, "name": "A"}))
                edit = {"chatHeaderId": chat_id, "id": sent["id"], "message": "hello"}
                ok(await a.call("updateMessage", edit))
                ok(await a.call("removeMessage", {"chatHeaderId": chat_id, "id": sent["id"]}))

                # A group over REST, with a block inside it: reads and typing skip the blocked side.
                body = {"name": "G", "memberIds": [bob.id]}
                group = await rest(http, server, alice, "POST", "/api/chat/groups", json=body)
                members = f"/api/chat/groups/{group['id']}/members"
                await rest(http, server, alice, "POST", members, json={"userIds": [carol.id]})
                await rest(http, server, carol, "POST", f"/api/friendships/{alice.id}/block")
                for socket in (a, b, c):
                    ok(await socket.call("joinRoom", {"chatHeaderId": group["id"]}))
                ok(await a.call("createMessage", {"chatHeaderId": group["id"], "message": "all", "messageType": 0}))
                ok(await a.call("readMessage", {"chatHeaderId": group["id"]}))
                ok(await a.call("roomTyping", {"chatHeaderId": group["id"], "isTyping": True, "name": "A"}))

                # A friend request and getChatHeaderAsync (which creates the chat) to a user never seen.
                await rest(http, server, alice, "POST", "/api/friendships", json={"userId": dave.id})
                query = {"user1Id": alice.id, "user2Id": dave.id}
                header = await rest(http, server, alice, "GET", "/api/chat/getChatHeaderAsync", params=query)
                assert header["chatType"] == 0

                # The lists fill in presence; then a member leaves the room and another the group.
                assert ok(await a.call("findAllChatHeaders", {}))["totalCount"] == 3
                assert isinstance(ok(await a.call("getMyChats", {})), list)
                assert isinstance(ok(await a.call("getMyFriendships", {})), list)
                ok(await b.call("leaveRoom", {"chatHeaderId": chat_id}))
                await rest(http, server, alice, "DELETE", f"/api/chat/groups/{group['id']}/members/{bob.id}")
                assert any(":presence:" in key for key in channel_keys(redis_url, channel))
                assert any(":ratelimit:" in key for key in channel_keys(redis_url, channel))
        finally:
            for socket in sockets.values():
                await socket.disconnect()
        # The disconnects' own state work (and their clientStatus) has run once a new socket is answered.
        late = await Client(server.url).connect(user_id=dave.id, token=dave.token)
        ok(await late.call("getMyChats", {}))
        await late.disconnect()
        lines = guard_log.read_text().splitlines()
        assert lines[0].startswith(INSTALLED), lines
        assert lines[1:] == [], "Redis was called inside a database transaction:\n" + "\n".join(lines[1:])
        assert "Traceback" not in server.log_path.read_text(), server.log_path.read_text()[-3000:]
