"""The presence store behaves the same in memory and in Redis (CONTRACT §3: counts sockets, viewing per socket).

Its API is async (awaited on the event loop); the Redis store's calls made outside a server's loop each get a
client of their own (chat.state.redis_client)."""

import pytest
import redis.asyncio as aioredis

from chat.state.presence import MemoryPresence, RedisPresence


async def _expire_heartbeat(url: str, key: str) -> None:
    """What a host's heartbeat key does when the host stops refreshing it."""
    client = aioredis.Redis.from_url(url)
    try:
        await client.delete(key)
    finally:
        await client.aclose()


@pytest.fixture(params=["memory", "redis"])
def store(request):
    if request.param == "memory":
        return MemoryPresence()
    url = request.getfixturevalue("redis_url")
    return RedisPresence(url, prefix="test-presence")


async def test_online_counts_sockets_not_users(store):
    assert await store.add_socket("u1", "s1", "web") is True
    assert await store.add_socket("u1", "s2", "mobile") is False
    assert await store.online_user_ids(["u1", "u2"]) == {"u1"}
    assert await store.user_sids("u1") == {"s1", "s2"}
    assert await store.remove_socket("u1", "s1") == (False, set())
    assert await store.online_user_ids(["u1"]) == {"u1"}
    assert await store.remove_socket("u1", "s2") == (True, set())
    assert await store.online_user_ids(["u1"]) == set()
    # Removing twice is harmless and does not announce a second "offline".
    assert await store.remove_socket("u1", "s2") == (False, set())


async def test_viewing_is_per_socket(store):
    await store.add_socket("u1", "phone", "mobile")
    await store.add_socket("u1", "laptop", "web")
    await store.set_viewing("phone", "u1", 7)
    await store.set_viewing("laptop", "u1", 7)
    await store.set_viewing("laptop", "u1", 8)
    assert await store.viewing_by_chat([7, 8, 9]) == {7: {"u1"}, 8: {"u1"}, 9: set()}
    went_offline, chats = await store.remove_socket("u1", "laptop")
    assert (went_offline, chats) == (False, {7, 8})
    assert await store.viewing_user_ids(7) == {"u1"}  # the phone still views it
    assert await store.viewing_user_ids(8) == set()
    await store.clear_viewing("phone", 7)
    assert await store.viewing_user_ids(7) == set()


async def test_clear_user_viewing_and_reset(store):
    await store.add_socket("u1", "a", "web")
    await store.add_socket("u1", "b", "web")
    await store.add_socket("u2", "c", "web")
    for sid, user in (("a", "u1"), ("b", "u1"), ("c", "u2")):
        await store.set_viewing(sid, user, 1)
    await store.clear_user_viewing("u1", 1)
    assert await store.viewing_user_ids(1) == {"u2"}
    await store.reset()
    assert await store.online_user_ids(["u1", "u2"]) == set()
    assert await store.viewing_user_ids(1) == set()


async def test_sockets_of_a_dead_host_are_reaped_once(redis_url):
    crashed = RedisPresence(redis_url, prefix="test-presence", host_id="crashed")
    survivor = RedisPresence(redis_url, prefix="test-presence", host_id="survivor")
    other = RedisPresence(redis_url, prefix="test-presence", host_id="other")
    for store in (crashed, survivor, other):
        await store.heartbeat(ttl=30)
    await crashed.add_socket("u1", "s1", "mobile")
    await crashed.set_viewing("s1", "u1", 7)
    await crashed.add_socket("u2", "s2", "web")
    await survivor.add_socket("u2", "s3", "web")  # u2 is also connected elsewhere

    assert await survivor.reap_dead_hosts() == []  # everyone is alive: nothing happens
    assert await survivor.online_user_ids(["u1", "u2"]) == {"u1", "u2"}

    await _expire_heartbeat(redis_url, "test-presence:alive:crashed")
    assert await survivor.reap_dead_hosts() == [("u1", "mobile")]
    assert await other.reap_dead_hosts() == []  # a second reaper finds nothing left to announce
    assert await survivor.online_user_ids(["u1", "u2"]) == {"u2"}
    assert await survivor.user_sids("u2") == {"s3"}
    assert await survivor.viewing_user_ids(7) == set()


async def test_a_retiring_host_is_reaped_without_waiting_for_its_ttl(redis_url):
    leaving = RedisPresence(redis_url, prefix="test-presence", host_id="leaving")
    staying = RedisPresence(redis_url, prefix="test-presence", host_id="staying")
    await leaving.heartbeat(ttl=30)
    await leaving.add_socket("u1", "s1", "web")
    await leaving.retire()
    assert await staying.reap_dead_hosts() == [("u1", "web")]


async def test_the_memory_store_has_nothing_to_reap():
    store = MemoryPresence()
    await store.heartbeat(ttl=30)
    await store.add_socket("u1", "s1", "web")
    assert await store.reap_dead_hosts() == []
    await store.retire()
    assert await store.online_user_ids(["u1"]) == {"u1"}


async def test_sids_of_users_and_one_snapshot(store):
    await store.add_socket("u1", "a", "web")
    await store.add_socket("u1", "b", "web")
    await store.add_socket("u2", "c", "web")
    await store.set_viewing("a", "u1", 3)
    assert await store.sids_of_users(["u1", "u2", "nobody"]) == {"a", "b", "c"}
    assert await store.sids_of_users([]) == set()
    snapshot = await store.snapshot(user_ids=["u1", "u3"], chat_ids=[3, 4])
    assert snapshot.online == {"u1"}
    assert snapshot.viewers(3) == {"u1"} and snapshot.viewers(4) == set()


async def test_a_burst_larger_than_the_pool_waits_for_connections(redis_url):
    """A thousand sockets disconnecting at once ask presence far more often at once than the pool has
    connections: the calls queue for one instead of failing ("Too many connections") and leaving the
    sockets online for ever."""
    import asyncio

    from chat.state.redis_client import RedisConnector

    connector = RedisConnector(redis_url, max_connections=3)
    await connector.open()  # the shared pool of this loop, as a server's start-up makes it
    store = RedisPresence(connector, prefix="test-presence")
    try:
        await asyncio.gather(*(store.add_socket(f"u{i}", f"s{i}", "web") for i in range(300)))
        gone = await asyncio.gather(*(store.remove_socket(f"u{i}", f"s{i}") for i in range(300)))
        assert all(went_offline for went_offline, _ in gone)
        assert await store.online_user_ids([f"u{i}" for i in range(300)]) == set()
    finally:
        await store.reset()
        await connector.close()
