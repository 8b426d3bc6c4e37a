"""Redis down, and Redis back empty, under two workers (issue 14, rows 4 and 5).

Two uvicorn workers on one PostgreSQL database and a Redis of the test's own, which the test kills and
starts again (empty, on the same port). While Redis is down: connections keep working on the worker they
reach, messages are stored and delivered on that worker, a push is queued for a recipient whose viewing
is unknown (assumed not viewing), and each worker applies the rate limit on its own. When Redis is back:
within 5 s each worker has published the presence and viewing of its own sockets again (a user viewing
a chat is online and viewing for the other worker, and gets no push for it), and messages cross between
the workers again.
"""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.faults.conftest import User, rest, text_message
from tests.faults.harness import RedisServer, start_server

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(120)]

HEALED_WITHIN = 5.0


@pytest.fixture(scope="module")
def redis_server():
    server = RedisServer()
    server.start()
    yield server
    server.kill()


@pytest.fixture(scope="module")
def workers(pg_env, redis_server, work_dir):
    env = {**pg_env, "REDIS_URL": redis_server.url, "CHAT_RATE_LIMIT": "5/10s"}
    started = []
    try:
        for i in range(2):
            started.append(start_server(env, work_dir / f"worker{i}.log"))
        yield started
    finally:
        for worker in started:
            worker.stop()


@pytest.fixture
def redis_restarted(redis_server):
    """Redis is running again after the test, whatever the test did to it."""
    yield redis_server
    if redis_server.proc is None:
        redis_server.start()


async def with_device(url: str, user: User) -> None:
    status, body = await rest(url, "POST", "/api/notifications/devices", user,
                              {"token": f"phone-{user.id}", "platform": "android"})  # fmt: skip
    assert status in (200, 201), body


def pushes_for(pg_cluster, env_db: str, user: User, message_id: int) -> int:
    return pg_cluster.query(env_db, "SELECT count(*) FROM notifications_push WHERE user_id = %s AND message_id = %s",
                            (user.id, message_id))[0][0]  # fmt: skip


async def test_redis_down_each_worker_keeps_serving_and_queues_pushes(
    workers, pg_cluster, pg_env, redis_restarted, connect
):
    w0, w1 = workers
    alice, bob, carol, rita = User("Alice"), User("Bob"), User("Carol"), User("Rita")
    await with_device(w1.url, bob)
    a = await connect(w0.url, alice)
    b = await connect(w1.url, bob)
    chat_ab = (await a.call("joinRoom", {"otherUserId": bob.id}))["chatHeaderId"]
    r = await connect(w0.url, rita)
    chat_rb = (await r.call("joinRoom", {"otherUserId": bob.id}))["chatHeaderId"]

    redis_restarted.kill()

    # A new connection on worker 1's neighbour works, and so does a chat between two of its sockets.
    c = await connect(w0.url, carol)
    chat_ac = (await c.call("joinRoom", {"otherUserId": alice.id}))["chatHeaderId"]
    assert (await a.call("joinRoom", {"chatHeaderId": chat_ac}))["joined"] is True
    sent = await a.call("createMessage", text_message(chat_ac, "same worker"))
    assert "chatMessage" in sent, sent
    await c.until(lambda: any(m["chatMessage"]["id"] == sent["chatMessage"]["id"] for m in c.events["message"]),
                  what="the message on the same worker")  # fmt: skip

    # Bob is on the other worker and not viewing: whether he views cannot be asked, so he gets a push.
    to_bob = await a.call("createMessage", text_message(chat_ab, "across workers"))
    assert "chatMessage" in to_bob, to_bob
    assert pushes_for(pg_cluster, pg_env["FAULTS_DB_NAME"], bob, to_bob["chatMessage"]["id"]) == 1
    # Bob's worker answers its own sockets too.
    assert chat_ab in {c["chatHeaderId"] for c in await b.call("getMyChats", {})}

    # The rate limit still holds, counted by this worker alone (5 every 10 s).
    answers = [await r.call("createMessage", text_message(chat_rb, f"r{n}")) for n in range(6)]
    assert all("chatMessage" in answer for answer in answers[:5]), answers
    assert answers[5]["code"] == "rate_limited", answers[5]


async def test_redis_back_empty_heals_presence_viewing_and_delivery_within_5_s(
    workers, pg_cluster, pg_env, redis_restarted, connect
):
    w0, w1 = workers
    for worker in workers:
        worker.wait_healthy()  # healed from whatever an earlier test did to Redis
    alice, bob = User("Alice"), User("Bob")
    await with_device(w0.url, alice)
    a = await connect(w0.url, alice)
    b = await connect(w1.url, bob)
    chat_id = (await a.call("joinRoom", {"otherUserId": bob.id}))["chatHeaderId"]  # Alice views it
    assert (await b.call("joinRoom", {"chatHeaderId": chat_id}))["joined"] is True

    async def alice_seen_from_worker_1() -> tuple[bool, bool]:
        chats = await b.call("getMyChats", {})
        online = next(c["isOnline"] for c in chats if c["chatHeaderId"] == chat_id)
        headers = await b.call("findAllChatHeaders", {"SkipCount": 0, "MaxResultCount": 20})
        members = next(h for h in headers["items"] if h["id"] == chat_id)["members"]
        viewing = next(m["isViewingChat"] for m in members if m["userId"] == alice.id)
        return online, viewing

    assert await alice_seen_from_worker_1() == (True, True)

    redis_restarted.kill()
    await asyncio.sleep(0.5)
    assert "chatMessage" in await a.call("createMessage", text_message(chat_id, "during the outage"))
    redis_restarted.start()  # empty
    back = time.monotonic()

    # Presence and viewing, published again by worker 0 from its own sockets.
    while await alice_seen_from_worker_1() != (True, True):
        assert time.monotonic() - back < HEALED_WITHIN, "Alice's presence and viewing never came back"
        await asyncio.sleep(0.2)

    # Messages cross between the workers again; Alice, viewing the chat, gets no push for them.
    crossed = None
    n = 0
    while crossed is None:
        assert time.monotonic() - back < HEALED_WITHIN + 2, "messages from worker 1 never reached worker 0"
        n += 1
        sent = (await b.call("createMessage", text_message(chat_id, f"after {n}")))["chatMessage"]
        try:
            await a.until(lambda sent=sent: any(m["chatMessage"]["id"] == sent["id"] for m in a.events["message"]),
                          timeout=0.5, what="the message from worker 1")  # fmt: skip
            crossed = sent
        except AssertionError:
            continue
    assert time.monotonic() - back < HEALED_WITHIN
    assert pushes_for(pg_cluster, pg_env["FAULTS_DB_NAME"], alice, crossed["id"]) == 0
