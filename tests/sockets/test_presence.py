"""Presence and clientStatus (CONTRACT §3): verified sockets, not users; friends and chat partners only."""

import pytest

from chat.models import FriendshipStatus, User
from chat.state.store import get_state
from chat.tokens import issue_token
from tests.conftest import barrier, run_sync
from tests.sockets.presence_support import state_until
from tests.sockets.rooms_support import befriend, direct_chat, group_chat

pytestmark = pytest.mark.django_db(transaction=True)


async def _sids_are(user, sids: set[str]) -> bool:
    return await get_state().presence.user_sids(user.pk) == sids


def status(user, active, client_type="web"):
    return {"userId": str(user.pk), "clientType": client_type, "activeNow": active}


async def test_online_on_first_socket_offline_after_last(clients, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    befriend(alice, bob)
    b = await clients(bob)
    phone = await clients(alice, query={"clientType": "mobile"})
    assert await b.received("clientStatus") == [status(alice, True, "mobile")]

    laptop = await clients(alice)  # a second tab: still one online user
    laptop_sid = laptop.sio.get_sid()
    await phone.disconnect()  # a tab closing does not make the user offline
    await state_until(lambda: _sids_are(alice, {laptop_sid}))  # the server has handled it
    assert b.events["clientStatus"] == [status(alice, True, "mobile")]
    assert await get_state().presence.online_user_ids([alice.pk]) == {str(alice.pk)}

    await laptop.disconnect()
    assert (await b.received("clientStatus", 2))[1] == status(alice, False, "web")
    # Nothing came in between: the phone's going away announced nothing, then or later.
    assert b.events["clientStatus"] == [status(alice, True, "mobile"), status(alice, False, "web")]
    assert await get_state().presence.online_user_ids([alice.pk]) == set()
    assert run_sync(lambda: User.objects.get(pk=alice.pk).last_seen) is not None


async def test_only_friends_and_chat_partners_hear_it(clients, make_user):
    alice = make_user("Alice")
    friend, partner, group_mate = make_user("Friend"), make_user("Partner"), make_user("Mate")
    pending, stranger = make_user("Pending"), make_user("Stranger")
    befriend(alice, friend)
    befriend(alice, pending, FriendshipStatus.PENDING)
    direct_chat(alice, partner)
    group_chat(group_mate, alice)
    listeners = {u: await clients(u) for u in (friend, partner, group_mate, pending, stranger)}
    first_socket = await clients(alice)
    await first_socket.disconnect()  # online, offline, then online again: every edge is heard
    for u in (friend, partner, group_mate):
        await listeners[u].received("clientStatus", 2)
    await clients(alice)
    for u in (friend, partner, group_mate):
        events = await listeners[u].received("clientStatus", 3)
        assert events == [status(alice, True), status(alice, False), status(alice, True)]
    await barrier(listeners[pending], listeners[stranger])
    for u in (pending, stranger):
        assert listeners[u].events["clientStatus"] == []


async def test_the_users_own_sockets_hear_nothing_of_themselves(clients, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    befriend(alice, bob)
    first = await clients(alice)
    b = await clients(bob)
    await first.received("clientStatus")  # Bob came online
    await b.disconnect()
    await first.received("clientStatus", 2)
    second = await clients(alice)
    await second.disconnect()
    await state_until(lambda: _sids_are(alice, {first.sio.get_sid()}))  # the server has handled it
    await first.barrier()
    assert [e["userId"] for e in first.events["clientStatus"]] == [str(bob.pk), str(bob.pk)]
    # And later: Bob coming back is the next thing this socket hears.
    await clients(bob)
    assert [e["userId"] for e in await first.received("clientStatus", 3)] == [str(bob.pk)] * 3


async def test_tokenless_socket_counts_from_the_event_that_binds_it(clients, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    befriend(alice, bob)
    b = await clients(bob)
    a = await clients(alice, token=None, query={"clientType": "flutter"})
    await b.barrier()  # the connect handler is over once the connect is answered
    assert b.events["clientStatus"] == []
    assert await get_state().presence.online_user_ids([alice.pk]) == set()

    # Unverified: no chat traffic, and friends coming online are not reported to it.
    other = make_user("Other")
    befriend(alice, other)
    o = await clients(other)
    await a.barrier()
    assert a.events["clientStatus"] == []

    friends = await a.call("getMyFriendships", {"accessToken": issue_token(alice.pk)})
    assert {f["userId"] for f in friends} == {str(bob.pk), str(other.pk)}
    assert await b.received("clientStatus") == [status(alice, True, "flutter")]
    assert await o.received("clientStatus") == [status(alice, True, "flutter")]
    assert await get_state().presence.online_user_ids([alice.pk]) == {str(alice.pk)}

    await a.disconnect()
    assert (await b.received("clientStatus", 2))[1] == status(alice, False, "flutter")


async def test_unbound_tokenless_socket_leaves_without_a_word(clients, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    befriend(alice, bob)
    b = await clients(bob)
    a = await clients(alice, token=None)
    await a.disconnect()
    await b.barrier()
    assert b.events["clientStatus"] == []
    # And later: Alice coming online is the first thing Bob hears of her.
    await clients(alice)
    assert await b.received("clientStatus") == [status(alice, True)]


async def test_viewing_is_per_socket_and_ends_with_the_socket(clients, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    one, two = direct_chat(alice, bob), group_chat(bob, alice)
    phone, laptop = await clients(alice), await clients(alice)
    await phone.call("joinRoom", {"chatHeaderId": one})
    await laptop.call("joinRoom", {"chatHeaderId": one})
    await laptop.call("joinRoom", {"chatHeaderId": two})

    phone_sid = phone.sio.get_sid()
    await laptop.disconnect()  # a laptop going away does not undo the phone's viewing
    await state_until(lambda: _sids_are(alice, {phone_sid}))
    assert await get_state().presence.viewing_user_ids(one) == {str(alice.pk)}
    assert await get_state().presence.viewing_user_ids(two) == set()

    await phone.disconnect()
    await state_until(lambda: _sids_are(alice, set()))
    assert await get_state().presence.viewing_user_ids(one) == set()


async def test_is_online_in_the_lists_follows_presence(clients, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    befriend(alice, bob)
    chat_id = direct_chat(alice, bob)
    a = await clients(alice)
    assert (await a.call("getMyFriendships"))[0]["isOnline"] is False
    b = await clients(bob)
    assert (await a.call("getMyFriendships"))[0]["isOnline"] is True
    assert (await a.call("getMyChats"))[0]["isOnline"] is True
    joined = await a.call("joinRoom", {"chatHeaderId": chat_id})
    bob_member = next(m for m in joined["members"] if m["userId"] == str(bob.pk))
    assert bob_member["isOnline"] is True
    await b.disconnect()
    await a.received("clientStatus", 2)
    assert (await a.call("getMyFriendships"))[0]["isOnline"] is False


async def test_a_block_hides_presence_even_in_a_shared_group(clients, make_user):
    alice, blocker, mate = make_user("Alice"), make_user("Blocker"), make_user("Mate")
    direct_chat(alice, blocker)
    group_chat(mate, alice, blocker)
    befriend(blocker, alice, FriendshipStatus.BLOCKED)
    listeners = {u: await clients(u) for u in (blocker, mate)}
    a = await clients(alice)
    assert await listeners[mate].received("clientStatus") == [status(alice, True)]
    await a.disconnect()
    assert (await listeners[mate].received("clientStatus", 2))[1] == status(alice, False)
    await listeners[blocker].barrier()
    assert [e for e in listeners[blocker].events["clientStatus"] if e["userId"] == str(alice.pk)] == []
