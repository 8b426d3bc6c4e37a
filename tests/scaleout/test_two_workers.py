"""Scale-out (CONTRACT §1, §3): two uvicorn workers sharing PostgreSQL and Redis act as one server.

Two real server processes on different ports, one fresh PostgreSQL database (created and dropped here),
one Redis with a channel of this run's own. User A's client talks to worker 1, user B's to worker 2,
as a load balancer would place them.
"""

from __future__ import annotations

import uuid

import aiohttp
import pytest

from chat.tokens import issue_token
from tests.conftest import Client, ensure_redis
from tests.processes import ServerProcess as Worker
from tests.scaleout.workers import two_workers

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(90)]


@pytest.fixture(scope="module")
def workers():
    """Two workers on one fresh PostgreSQL database and one Redis channel of their own."""
    ensure_redis()
    with two_workers(
        "scaleout",
        "redis://127.0.0.1:6379/0",
        CHAT_RATE_LIMIT="0",
        PUSH_BACKEND="notifications.backends.filebased.PushBackend",
        PUSH_FILE_PATH="{work}/pushes.jsonl",
        PRESENCE_HOST_TTL="3",  # so that the crash test sees a dead worker's users reaped within seconds
    ) as started:
        yield started


class User:
    def __init__(self, name: str) -> None:
        self.id = str(uuid.uuid4())
        self.name = name
        self.token = issue_token(self.id, name=name)


@pytest.fixture
async def connect(workers):
    """`await connect(user, worker_index)`: a recording python-socketio client on that worker."""
    made: list[Client] = []

    async def factory(user: User, index: int) -> Client:
        client = Client(workers[index].url)
        made.append(client)
        await client.connect(user_id=user.id, token=user.token)
        return client

    yield factory
    for client in made:
        await client.disconnect()


async def rest(worker: Worker, method: str, path: str, user: User, body=None) -> tuple[int, dict]:
    async with aiohttp.ClientSession() as session:
        async with session.request(
            method, f"{worker.url}{path}", json=body, headers={"Authorization": f"Bearer {user.token}"}
        ) as response:
            return response.status, await response.json(content_type=None)


def heard(client: Client, event: str, match=lambda payload: True) -> list:
    return [payload for payload in client.events[event] if match(payload)]


async def hears(client: Client, event: str, match=lambda payload: True, *, timeout: float = 5, what: str = "") -> list:
    """The `event`s `client` heard that `match`, once there is one (`Client.until`: no polling)."""
    return await client.until(lambda: heard(client, event, match), timeout=timeout, what=what or repr(event))


async def test_a_message_sent_on_worker_1_reaches_a_socket_on_worker_2(workers, connect):
    alice, bob = User("Alice"), User("Bob")
    a = await connect(alice, 0)
    b = await connect(bob, 1)
    joined = await a.call("joinRoom", {"otherUserId": bob.id})
    chat_id = joined["chatHeaderId"]
    assert (await b.call("joinRoom", {"chatHeaderId": chat_id}))["joined"] is True
    await hears(a, "onMemberJoin", lambda m: m["userId"] == bob.id, what="onMemberJoin on 1")

    sent = await a.call("createMessage", {"chatHeaderId": chat_id, "message": "across workers", "messageType": 0})
    message = sent["chatMessage"]
    await hears(b, "message", lambda m: m["chatMessage"]["id"] == message["id"], what="message on worker 2")
    assert heard(b, "message", lambda m: m["chatMessage"]["id"] == message["id"]) == [{"chatMessage": message}]

    reply = (await b.call("createMessage", {"chatHeaderId": chat_id, "message": "and back", "messageType": 0}))[
        "chatMessage"
    ]
    await hears(a, "message", lambda m: m["chatMessage"]["id"] == reply["id"], what="reply")

    # One database: either worker pages the same history.
    page = await b.call("findAllMessages", {"chatHeaderId": chat_id})
    assert [m["id"] for m in page["items"]] == [reply["id"], message["id"]]

    # Events from worker 2 reach worker 1 too: typing, edit, read, delete.
    await b.call("roomTyping", {"chatHeaderId": chat_id, "isTyping": True, "name": "Bob"})
    await hears(a, "typing", lambda t: t["userId"] == bob.id and t["isTyping"], what="typing")
    await b.call("readMessage", {"chatHeaderId": chat_id})
    await hears(a, "messageHasBeenRead", what="messageHasBeenRead on 1")
    removed = await b.call("removeMessage", {"id": reply["id"], "chatHeaderId": chat_id})
    assert removed == {"deletedIds": [reply["id"]]}
    await hears(a, "messageDeleted", lambda message_id: message_id == reply["id"], what="messageDeleted")


async def test_presence_is_shared_between_workers(workers, connect):
    alice, bob = User("Alice"), User("Bob")
    await rest(workers[0], "GET", "/api/friendships", alice)  # her first token use creates her, offline
    b = await connect(bob, 1)
    # A one-to-one chat and an accepted friendship make them each other's contacts.
    chat_id = (await b.call("joinRoom", {"otherUserId": alice.id}))["chatHeaderId"]
    status, body = await rest(workers[1], "POST", "/api/friendships", bob, {"userId": alice.id})
    friends = status != 404
    if friends:
        assert status == 201, body
        status, body = await rest(workers[0], "POST", f"/api/friendships/{bob.id}/accept", alice)
        assert status == 200, body

    async def alice_online_seen_from_worker_2() -> tuple[bool, bool | None]:
        chats = await b.call("getMyChats", {})
        friendships = await b.call("getMyFriendships", {}) if friends else []
        chat_online = next(c["isOnline"] for c in chats if c["chatHeaderId"] == chat_id)
        friend_online = next((f["isOnline"] for f in friendships if f["userId"] == alice.id), None)
        return chat_online, friend_online

    assert await alice_online_seen_from_worker_2() == (False, False if friends else None)

    # Alice connects on worker 1: worker 2 announces her and answers "online".
    a1 = await connect(alice, 0)
    await hears(
        b,
        "clientStatus",
        lambda s: s["userId"] == alice.id and s["activeNow"],
        what="clientStatus online on worker 2",
    )
    assert heard(b, "clientStatus", lambda s: s["userId"] == alice.id) == [
        {"userId": alice.id, "clientType": "web", "activeNow": True}
    ]
    assert await alice_online_seen_from_worker_2() == (True, True if friends else None)

    # A second socket on worker 2, then the first one closes: still online, nothing announced.
    a2 = await connect(alice, 1)
    await a1.disconnect()
    assert await alice_online_seen_from_worker_2() == (True, True if friends else None)
    assert len(heard(b, "clientStatus", lambda s: s["userId"] == alice.id)) == 1

    # Her last socket closes: offline everywhere.
    await a2.disconnect()
    await hears(
        b,
        "clientStatus",
        lambda s: s["userId"] == alice.id and not s["activeNow"],
        what="clientStatus offline",
    )
    assert await alice_online_seen_from_worker_2() == (False, False if friends else None)
    # Online, then offline once: the first socket's closing announced nothing.
    assert heard(b, "clientStatus", lambda s: s["userId"] == alice.id) == [
        {"userId": alice.id, "clientType": "web", "activeNow": active} for active in (True, False)
    ]


async def test_viewing_and_group_removal_are_seen_by_every_worker(workers, connect):
    admin, bob, carol = User("Admin"), User("Bob"), User("Carol")
    a = await connect(admin, 0)
    b = await connect(bob, 1)
    c = await connect(carol, 0)
    status, body = await rest(
        workers[0], "POST", "/api/chat/groups", admin, {"name": "Scale-out", "memberIds": [bob.id, carol.id]}
    )
    if status == 404:
        pytest.skip("POST /api/chat/groups is not there")
    assert status == 201, body
    chat_id = body["data"]["id"]
    for client in (a, b, c):
        assert (await client.call("joinRoom", {"chatHeaderId": chat_id}))["joined"] is True

    async def viewing_seen_from_worker_1() -> dict:
        headers = await a.call("findAllChatHeaders", {"SkipCount": 0, "MaxResultCount": 20})
        header = next(h for h in headers["items"] if h["id"] == chat_id)
        return {m["userId"]: m["isViewingChat"] for m in header["members"]}

    assert await viewing_seen_from_worker_1() == {admin.id: True, bob.id: True, carol.id: True}
    # A one-to-one chat of the admin's and Bob's, both in its room: what the admin sends there later is
    # the event that Bob's socket must hear after anything of the group's (below).
    direct_id = (await a.call("joinRoom", {"otherUserId": bob.id}))["chatHeaderId"]
    assert (await b.call("joinRoom", {"chatHeaderId": direct_id}))["joined"] is True

    # Bob leaves the room on worker 2: worker 1 sees he no longer views it.
    assert (await b.call("leaveRoom", {"chatHeaderId": chat_id})) == {"chatHeaderId": chat_id, "left": True}
    assert (await viewing_seen_from_worker_1())[bob.id] is False
    await b.call("joinRoom", {"chatHeaderId": chat_id})
    assert (await viewing_seen_from_worker_1())[bob.id] is True

    # The admin removes Bob on worker 1: Bob's socket on worker 2 leaves the room and hears nothing more.
    status, body = await rest(workers[0], "DELETE", f"/api/chat/groups/{chat_id}/members/{bob.id}", admin)
    assert status == 200, body
    sent = (await a.call("createMessage", {"chatHeaderId": chat_id, "message": "after Bob", "messageType": 0}))[
        "chatMessage"
    ]
    await hears(c, "message", lambda m: m["chatMessage"]["id"] == sent["id"], what="Carol hears")
    # Sent after it from the same worker, so it reaches worker 2 through the channel after it.
    later = (await a.call("createMessage", {"chatHeaderId": direct_id, "message": "to Bob", "messageType": 0}))[
        "chatMessage"
    ]
    await hears(b, "message", lambda m: m["chatMessage"]["id"] == later["id"], what="the later message")
    assert heard(b, "message", lambda m: m["chatMessage"]["id"] == sent["id"]) == []
    assert bob.id not in await viewing_seen_from_worker_1()
    assert (await b.call("findAllMessages", {"chatHeaderId": chat_id}))["code"] == "forbidden"


async def test_a_crashed_workers_users_go_offline_for_the_others(workers, connect):
    alice, bob = User("Alice"), User("Bob")
    doomed = Worker(workers[0].env, workers[0].log_path.parent / "worker3.log")
    try:
        doomed.wait_healthy()
        await rest(workers[0], "GET", "/api/friendships", alice)  # her first token use creates her
        b = await connect(bob, 1)
        chat_id = (await b.call("joinRoom", {"otherUserId": alice.id}))["chatHeaderId"]
        a = Client(doomed.url)
        await a.connect(user_id=alice.id, token=alice.token)
        assert (await a.call("joinRoom", {"chatHeaderId": chat_id}))["joined"] is True
        await hears(b, "clientStatus", lambda s: s["userId"] == alice.id and s["activeNow"], what="online")
        doomed.proc.kill()  # no disconnect handler runs: only the heartbeat can tell
        doomed.proc.wait()
        await hears(
            b,
            "clientStatus",
            lambda s: s["userId"] == alice.id and not s["activeNow"],
            timeout=15,
            what="clientStatus offline after the crash",
        )
        chats = await b.call("getMyChats", {})
        assert next(c["isOnline"] for c in chats if c["chatHeaderId"] == chat_id) is False
        header = await b.call("findAllChatHeaders", {})
        members = next(h for h in header["items"] if h["id"] == chat_id)["members"]
        assert next(m["isViewingChat"] for m in members if m["userId"] == alice.id) is False
    finally:
        doomed.stop()


async def test_a_batchs_messages_cross_workers_in_one_published_message_each_batch(workers, connect):
    """A group commit's announcements are delivered on their own worker, then published together
    (chat.sockets.managers.ChatRedisManager.emit_many): every message reaches the other worker's
    sockets once and in each sender's order, and none travels in a message of its own."""
    import asyncio
    import json

    import redis.asyncio as aioredis

    from chat.sockets.managers import BATCH_ROOM

    senders = [User(f"Sender {i}") for i in range(6)]
    readers = [User(f"Reader {i}") for i in range(6)]
    sending = [await connect(user, 0) for user in senders]
    reading = [await connect(user, 1) for user in readers]
    chats = []
    for s, r, user in zip(sending, reading, readers, strict=True):
        chat_id = (await s.call("joinRoom", {"otherUserId": user.id}))["chatHeaderId"]
        assert (await r.call("joinRoom", {"chatHeaderId": chat_id}))["joined"] is True
        chats.append(chat_id)
    published = []
    listener = aioredis.Redis.from_url("redis://127.0.0.1:6379/0")
    pubsub = listener.pubsub()
    await pubsub.subscribe(workers[0].env["SOCKETIO_CHANNEL"])

    async def record():
        async for item in pubsub.listen():
            if item["type"] == "message":
                published.append(json.loads(item["data"]))

    recording = asyncio.ensure_future(record())
    try:
        await asyncio.sleep(0.2)  # subscribed before the first send
        rounds = 5
        for n in range(rounds):  # every sender at once, five times: batches form while one is written
            await asyncio.gather(
                *(
                    s.call("createMessage", {"chatHeaderId": chat_id, "message": f"m{n}", "messageType": 0})
                    for s, chat_id in zip(sending, chats, strict=True)
                )
            )
        for r, chat_id in zip(reading, chats, strict=True):
            got = await r.until(
                lambda r=r, c=chat_id: len(heard_in(r, c)) >= rounds, timeout=5, what=f"{rounds} messages of {chat_id}"
            )
            assert [m["chatMessage"]["message"] for m in heard_in(r, chat_id)] == [f"m{n}" for n in range(rounds)], got
        await asyncio.sleep(0.2)
    finally:
        recording.cancel()
        await pubsub.aclose()
        await listener.aclose()
    emits = [m for m in published if m.get("method") == "emit"]
    single = [m for m in emits if m["event"] == "message" and m["room"] != BATCH_ROOM]
    batched = [e for m in emits if m["room"] == BATCH_ROOM for e in m["data"][0] if e["event"] == "message"]
    assert single == []  # no message announced in a published message of its own
    assert sorted(
        (e["data"]["chatMessage"]["chatHeaderId"], e["data"]["chatMessage"]["message"]) for e in batched
    ) == sorted((chat_id, f"m{n}") for chat_id in chats for n in range(rounds))


def heard_in(client: Client, chat_id: int) -> list:
    return heard(client, "message", lambda m: m["chatMessage"]["chatHeaderId"] == chat_id)
