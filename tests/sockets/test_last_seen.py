"""`lastSeen` in MemberDto, getMyFriendships and getMyChats (CONTRACT §9, §11), through a live server:
set when a user's last socket closes, null while online or never seen, null across a block."""

from __future__ import annotations

import pytest

from chat.models import User
from tests.conftest import run_sync
from tests.sockets._message_helpers import block, direct_chat, group_chat
from tests.sockets.presence_support import state_until
from tests.sockets.rooms_support import befriend

pytestmark = pytest.mark.django_db(transaction=True)


def seen(user) -> str | None:
    value = run_sync(lambda: User.objects.get(pk=user.pk).last_seen)
    return None if value is None else value.isoformat()


async def _recorded(user) -> bool:
    return seen(user) is not None


async def views(client, other, chat_id) -> dict:
    """What `client`'s user is shown of `other`'s last seen, in every list that carries it."""
    headers = await client.call("findAllChatHeaders", {})
    members = [m for h in headers["items"] if h["id"] == chat_id for m in h["members"] if m["userId"] == str(other.pk)]
    chats = [c for c in await client.call("getMyChats", {}) if c["userId"] == str(other.pk)]
    friends = [f for f in await client.call("getMyFriendships", {}) if f["userId"] == str(other.pk)]
    joined = await client.call("joinRoom", {"chatHeaderId": chat_id})
    return {
        "member": [m["lastSeen"] for m in members],
        "joinRoom": [m["lastSeen"] for m in joined["members"] if m["userId"] == str(other.pk)],
        "getMyChats": [c["lastSeen"] for c in chats],
        "getMyFriendships": [f["lastSeen"] for f in friends],
    }


async def test_last_seen_is_null_while_online_or_never_seen_and_set_when_the_last_socket_closes(clients, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    befriend(alice, bob)
    chat_id = direct_chat(alice, bob)
    a = await clients(alice)
    never = await views(a, bob, chat_id)
    assert never == {"member": [None], "joinRoom": [None], "getMyChats": [None], "getMyFriendships": [None]}

    phone, laptop = await clients(bob), await clients(bob)
    assert await views(a, bob, chat_id) == never  # online
    await phone.disconnect()
    assert await views(a, bob, chat_id) == never  # still online on the laptop
    await laptop.disconnect()
    await state_until(lambda: _recorded(bob))
    shown = await views(a, bob, chat_id)
    values = {value for values in shown.values() for value in values}
    assert len(values) == 1 and all(len(v) == 1 for v in shown.values())
    (value,) = values
    assert value.endswith("Z") and value[:19] == seen(bob)[:19]

    await clients(bob)  # back online: null again
    assert await views(a, bob, chat_id) == never


async def test_last_seen_is_null_across_a_block(clients, make_user):
    alice, bob, carol = make_user("Alice"), make_user("Bob"), make_user("Carol")
    chat_id = direct_chat(alice, bob)
    gid = group_chat(carol, alice, bob)
    b = await clients(bob)
    await b.disconnect()

    async def recorded():
        return seen(bob) is not None

    await state_until(recorded)
    a = await clients(alice)
    assert (await views(a, bob, chat_id))["getMyChats"] != [None]
    block(bob, alice)
    shown = await views(a, bob, chat_id)
    assert shown["member"] == shown["joinRoom"] == shown["getMyChats"] == [None]
    assert shown["getMyFriendships"] == []  # a blocked pair is never listed
    group = await a.call("joinRoom", {"chatHeaderId": gid})
    assert [m["lastSeen"] for m in group["members"] if m["userId"] == str(bob.pk)] == [None]
    c = await clients(carol)  # Carol is not blocked: she sees it
    group = await c.call("joinRoom", {"chatHeaderId": gid})
    assert [m["lastSeen"] is not None for m in group["members"] if m["userId"] == str(bob.pk)] == [True]
