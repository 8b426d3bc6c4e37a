"""The presence store behaves the same in memory and in Redis (CONTRACT §3: counts sockets, viewing per socket)."""

import pytest

from chat.state.presence import MemoryPresence, RedisPresence


@pytest.fixture(params=["memory", "redis"])
def store(request):
    if request.param == "memory":
        return MemoryPresence()
    url = request.getfixturevalue("redis_url")
    return RedisPresence(url, prefix="test-presence")


def test_online_counts_sockets_not_users(store):
    assert store.add_socket("u1", "s1", "web") is True
    assert store.add_socket("u1", "s2", "mobile") is False
    assert store.online_user_ids(["u1", "u2"]) == {"u1"}
    assert store.user_sids("u1") == {"s1", "s2"}
    assert store.remove_socket("u1", "s1") == (False, set())
    assert store.online_user_ids(["u1"]) == {"u1"}
    assert store.remove_socket("u1", "s2") == (True, set())
    assert store.online_user_ids(["u1"]) == set()
    # Removing twice is harmless and does not announce a second "offline".
    assert store.remove_socket("u1", "s2") == (False, set())


def test_viewing_is_per_socket(store):
    store.add_socket("u1", "phone", "mobile")
    store.add_socket("u1", "laptop", "web")
    store.set_viewing("phone", "u1", 7)
    store.set_viewing("laptop", "u1", 7)
    store.set_viewing("laptop", "u1", 8)
    assert store.viewing_by_chat([7, 8, 9]) == {7: {"u1"}, 8: {"u1"}, 9: set()}
    went_offline, chats = store.remove_socket("u1", "laptop")
    assert (went_offline, chats) == (False, {7, 8})
    assert store.viewing_user_ids(7) == {"u1"}  # the phone still views it
    assert store.viewing_user_ids(8) == set()
    store.clear_viewing("phone", 7)
    assert store.viewing_user_ids(7) == set()


def test_clear_user_viewing_and_reset(store):
    store.add_socket("u1", "a", "web")
    store.add_socket("u1", "b", "web")
    store.add_socket("u2", "c", "web")
    for sid, user in (("a", "u1"), ("b", "u1"), ("c", "u2")):
        store.set_viewing(sid, user, 1)
    store.clear_user_viewing("u1", 1)
    assert store.viewing_user_ids(1) == {"u2"}
    store.reset()
    assert store.online_user_ids(["u1", "u2"]) == set()
    assert store.viewing_user_ids(1) == set()


def test_sockets_of_a_dead_host_are_reaped_once(redis_url):
    crashed = RedisPresence(redis_url, prefix="test-presence", host_id="crashed")
    survivor = RedisPresence(redis_url, prefix="test-presence", host_id="survivor")
    other = RedisPresence(redis_url, prefix="test-presence", host_id="other")
    for store in (crashed, survivor, other):
        store.heartbeat(ttl=30)
    crashed.add_socket("u1", "s1", "mobile")
    crashed.set_viewing("s1", "u1", 7)
    crashed.add_socket("u2", "s2", "web")
    survivor.add_socket("u2", "s3", "web")  # u2 is also connected elsewhere

    assert survivor.reap_dead_hosts() == []  # everyone is alive: nothing happens
    assert survivor.online_user_ids(["u1", "u2"]) == {"u1", "u2"}

    crashed._redis.delete("test-presence:alive:crashed")  # the heartbeat expired
    assert survivor.reap_dead_hosts() == [("u1", "mobile")]
    assert other.reap_dead_hosts() == []  # a second reaper finds nothing left to announce
    assert survivor.online_user_ids(["u1", "u2"]) == {"u2"}
    assert survivor.user_sids("u2") == {"s3"}
    assert survivor.viewing_user_ids(7) == set()


def test_a_retiring_host_is_reaped_without_waiting_for_its_ttl(redis_url):
    leaving = RedisPresence(redis_url, prefix="test-presence", host_id="leaving")
    staying = RedisPresence(redis_url, prefix="test-presence", host_id="staying")
    leaving.heartbeat(ttl=30)
    leaving.add_socket("u1", "s1", "web")
    leaving.retire()
    assert staying.reap_dead_hosts() == [("u1", "web")]


def test_the_memory_store_has_nothing_to_reap():
    store = MemoryPresence()
    store.heartbeat(ttl=30)
    store.add_socket("u1", "s1", "web")
    assert store.reap_dead_hosts() == []
    store.retire()
    assert store.online_user_ids(["u1"]) == {"u1"}
