"""The presence store behaves the same in memory and in Redis (CONTRACT §3: counts sockets, viewing per socket)."""

import pytest

from chat.sockets.presence import MemoryPresence, RedisPresence


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
