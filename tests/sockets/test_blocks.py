"""CONTRACT §11: blocks hide each side from the other, in one-to-one chats and in groups.

Across a block a member is never online or viewing in any ack or list, and no `typing`,
`onMemberJoin`, `messageHasBeenRead` or `messageRead` crosses from one side to the other; everybody
else in the chat still hears them. In a one-to-one chat with a block, editing is `blocked` like
sending; a chat the pair never had cannot be started, one they had can still be joined and read.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from chat.models import ChatHeader, ChatMessage, FriendshipStatus
from chat.services.friendships import friendship_delete
from tests.conftest import barrier, run_sync
from tests.sockets.rooms_support import befriend, direct_chat, group_chat, send

pytestmark = pytest.mark.django_db(transaction=True)

ROOM_EVENTS = ("typing", "onMemberJoin", "messageHasBeenRead", "messageRead")


def member(ack_or_header: dict, user) -> dict:
    members = ack_or_header.get("members") or ack_or_header["chatHeader"]["members"]
    return next(m for m in members if m["userId"] == str(user.pk))


def typing(chat_id: int, is_typing: bool = True) -> dict:
    return {"chatHeaderId": chat_id, "isTyping": is_typing, "name": "x"}


async def text(client, chat_id: int, message: str = "hi") -> dict:
    ack = await client.call("createMessage", {"chatHeaderId": chat_id, "message": message, "messageType": 0})
    assert "chatMessage" in ack, ack
    return ack["chatMessage"]


async def clear(*clients) -> None:
    """Forget what the sockets heard so far (the joins' onMemberJoin, say), once it has all arrived."""
    await barrier(*clients)
    for client in clients:
        client.clear()


@pytest.fixture
async def group(clients, make_user):
    """Alice, Bob and Carol in a group (and Alice and Bob in a one-to-one chat); Alice has blocked Bob
    since. Each has a socket in the group's room and a second socket outside it."""
    alice, bob, carol = make_user("Alice"), make_user("Bob"), make_user("Carol")
    direct_id = direct_chat(alice, bob)
    group_id = group_chat(alice, bob, carol, name="Trio")
    befriend(alice, bob, FriendshipStatus.BLOCKED)
    sockets = {}
    for name, user in (("a", alice), ("b", bob), ("c", carol)):
        sockets[name] = await clients(user)
        sockets[name + "_out"] = await clients(user)
    for name in ("c", "a", "b"):
        ack = await sockets[name].call("joinRoom", {"chatHeaderId": group_id})
        assert ack.get("joined") is True, ack
    await clear(*sockets.values())
    return SimpleNamespace(alice=alice, bob=bob, carol=carol, group_id=group_id, direct_id=direct_id, **sockets)


async def test_group_join_ack_hides_presence_across_the_block_only(group):
    g = group
    ack = await g.a.call("joinRoom", {"chatHeaderId": g.group_id})
    assert member(ack, g.carol)["isOnline"] is True and member(ack, g.carol)["isViewingChat"] is True
    assert member(ack, g.bob)["isOnline"] is False and member(ack, g.bob)["isViewingChat"] is False
    ack = await g.b.call("joinRoom", {"chatHeaderId": g.group_id})
    assert (member(ack, g.alice)["isOnline"], member(ack, g.alice)["isViewingChat"]) == (False, False)
    assert (member(ack, g.carol)["isOnline"], member(ack, g.carol)["isViewingChat"]) == (True, True)
    # Carol, on neither side, sees both as they are.
    ack = await g.c.call("joinRoom", {"chatHeaderId": g.group_id})
    assert member(ack, g.alice)["isViewingChat"] is True and member(ack, g.bob)["isViewingChat"] is True


async def test_group_lists_hide_presence_across_the_block(group):
    g = group
    page = await g.a.call("findAllChatHeaders", {})
    by_id = {item["id"]: item for item in page["items"]}
    assert member(by_id[g.group_id], g.bob)["isOnline"] is False
    assert member(by_id[g.group_id], g.bob)["isViewingChat"] is False
    assert member(by_id[g.group_id], g.carol)["isOnline"] is True
    assert member(by_id[g.direct_id], g.bob)["isOnline"] is False
    page = await g.c.call("findAllChatHeaders", {})
    assert member(page["items"][0], g.bob)["isOnline"] is True


async def test_on_member_join_does_not_cross_the_block_in_a_group(group):
    g = group
    ack = await g.b.call("joinRoom", {"chatHeaderId": g.group_id})
    assert ack["joined"] is True
    (event,) = await g.c.received("onMemberJoin")
    assert event["userId"] == str(g.bob.pk)
    await g.a.barrier()
    assert g.a.events["onMemberJoin"] == []
    await g.a.call("joinRoom", {"chatHeaderId": g.group_id})
    assert len(await g.c.received("onMemberJoin", 2)) == 2
    await g.b.barrier()
    assert g.b.events["onMemberJoin"] == []


async def test_typing_does_not_cross_the_block_in_a_group(group):
    g = group
    assert (await g.b.call("roomTyping", typing(g.group_id)))["userId"] == str(g.bob.pk)
    assert (await g.c.received("typing"))[0]["userId"] == str(g.bob.pk)
    await g.a.call("roomTyping", typing(g.group_id))
    assert [e["userId"] for e in await g.c.received("typing", 2)] == [str(g.bob.pk), str(g.alice.pk)]
    await barrier(g.a, g.b)
    assert g.a.events["typing"] == [] and g.b.events["typing"] == []
    # Nor does the stop a disconnect announces, or the one a leaveRoom announces.
    await g.b.disconnect()
    await g.a.call("leaveRoom", {"chatHeaderId": g.group_id})
    stops = await g.c.received("typing", 4)
    assert sorted(e["userId"] for e in stops[2:]) == sorted([str(g.alice.pk), str(g.bob.pk)])
    assert all(e["isTyping"] is False for e in stops[2:])
    await barrier(g.a, g.b_out)
    assert g.a.events["typing"] == []
    assert g.b_out.events["typing"] == []


async def test_reads_do_not_cross_the_block_in_a_group(group):
    g = group
    sent = await text(g.c, g.group_id)
    await g.b.call("readMessage", {"chatHeaderId": g.group_id})
    assert await g.c.received("messageHasBeenRead") == [g.group_id]
    assert (await g.c.received("messageRead"))[0] == {
        "chatHeaderId": g.group_id,
        "userId": str(g.bob.pk),
        "lastReadMessageId": sent["id"],
    }
    assert await g.b.received("messageRead")  # the reader's own sockets still hear it
    await g.a.call("readMessage", {"chatHeaderId": g.group_id})
    assert len(await g.c.received("messageRead", 2)) == 2
    await barrier(g.a, g.b)
    # Each side heard only its own read.
    for client, user in ((g.a, g.alice), (g.b, g.bob)):
        assert [e["userId"] for e in client.events["messageRead"]] == [str(user.pk)]
        assert client.events["messageHasBeenRead"] == [g.group_id]
    # Messages themselves are not hidden in a group.
    assert len(g.a.events["message"]) == len(g.b.events["message"]) == 1


@pytest.fixture
async def pair(clients, make_user):
    """Alice and Bob had a one-to-one chat before Bob blocked Alice; both sockets are in its room."""
    alice, bob = make_user("Alice"), make_user("Bob")
    chat_id = direct_chat(alice, bob)
    a, b = await clients(alice), await clients(bob)
    old = await text(a, chat_id, "before the block")
    befriend(bob, alice, FriendshipStatus.BLOCKED)
    await b.call("joinRoom", {"chatHeaderId": chat_id})
    await clear(a, b)
    return SimpleNamespace(alice=alice, bob=bob, chat_id=chat_id, a=a, b=b, old=old)


async def test_a_chat_they_had_can_be_joined_and_read_without_presence(pair):
    p = pair
    ack = await p.a.call("joinRoom", {"otherUserId": str(p.bob.pk)})
    assert ack["chatHeaderId"] == p.chat_id and ack["friendshipStatus"] == FriendshipStatus.BLOCKED
    assert (member(ack, p.bob)["isOnline"], member(ack, p.bob)["isViewingChat"]) == (False, False)
    assert member(ack, p.alice)["isOnline"] is True  # the joiner sees themselves as they are
    page = await p.a.call("findAllMessages", {"chatHeaderId": p.chat_id})
    assert [m["id"] for m in page["items"]] == [p.old["id"]]
    read = await p.b.call("readMessage", {"chatHeaderId": p.chat_id})
    assert read["lastReadMessageId"] == p.old["id"]
    await barrier(p.a, p.b)
    for event in ROOM_EVENTS:
        assert p.a.events[event] == [] and p.b.events["onMemberJoin"] == [], event
    chats = await p.a.call("getMyChats", {})
    assert [(c["chatHeaderId"], c["isOnline"]) for c in chats] == [(p.chat_id, False)]
    chats = await p.b.call("getMyChats", {})
    assert [(c["chatHeaderId"], c["isOnline"], c["friendshipStatus"]) for c in chats] == [(p.chat_id, False, 3)]
    header = (await p.b.call("findAllChatHeaders", {}))["items"][0]
    assert member(header, p.alice)["isOnline"] is False and member(header, p.alice)["isViewingChat"] is False


async def test_the_blocked_user_cannot_edit_earlier_messages(pair):
    p = pair
    ack = await p.a.call("updateMessage", {"id": p.old["id"], "chatHeaderId": p.chat_id, "message": "edited"})
    assert ack["code"] == "blocked", ack
    # Either side: the blocker cannot edit into the blocked user's chat either. Bob's message is from a
    # moment when he had lifted the block (nobody sends across one).
    run_sync(friendship_delete, user=p.bob, other=p.alice)
    mine = send(p.bob, p.chat_id, "bob's").pk
    befriend(p.bob, p.alice, FriendshipStatus.BLOCKED)
    ack = await p.b.call("updateMessage", {"id": mine, "chatHeaderId": p.chat_id, "message": "edited"})
    assert ack["code"] == "blocked", ack
    await barrier(p.a, p.b)
    assert p.a.events["messageUpdated"] == [] and p.b.events["messageUpdated"] == []
    rows = run_sync(lambda: list(ChatMessage.objects.filter(chat_id=p.chat_id).values_list("message", "is_edited")))
    assert sorted(rows) == [("before the block", False), ("bob's", False)]
    # A stranger's answer is still `forbidden`, as before: `blocked` tells nothing about other chats.
    ack = await p.a.call("updateMessage", {"id": mine, "chatHeaderId": p.chat_id, "message": "x"})
    assert ack["code"] == "forbidden"


async def test_typing_and_sending_are_blocked(pair):
    p = pair
    assert (await p.a.call("roomTyping", typing(p.chat_id)))["code"] == "blocked"
    ack = await p.a.call("createMessage", {"chatHeaderId": p.chat_id, "message": "x", "messageType": 0})
    assert ack["code"] == "blocked"
    await p.b.barrier()
    assert p.b.events["typing"] == [] and p.b.events["message"] == []


@pytest.mark.parametrize("who_blocked", ["asker", "other"])
async def test_no_new_chat_across_a_block(clients, make_user, who_blocked):
    alice, bob = make_user("Alice"), make_user("Bob")
    if who_blocked == "asker":
        befriend(alice, bob, FriendshipStatus.BLOCKED)
    else:
        befriend(bob, alice, FriendshipStatus.BLOCKED)
    a, b = await clients(alice), await clients(bob)
    for client, other in ((a, bob), (b, alice)):
        ack = await client.call("joinRoom", {"otherUserId": str(other.pk)})
        assert ack["code"] == "blocked", ack
    assert run_sync(ChatHeader.objects.count) == 0
    await barrier(a, b)
    assert a.events["onMemberJoin"] == [] and b.events["onMemberJoin"] == []
    assert await b.call("getMyChats", {}) == []


async def test_client_status_stays_hidden_in_a_group(group):
    g = group
    for client in (g.b, g.b_out):
        await client.disconnect()
    (status,) = await g.c.received("clientStatus")
    assert status["userId"] == str(g.bob.pk) and status["activeNow"] is False
    await barrier(g.a, g.a_out)
    assert g.a.events["clientStatus"] == [] and g.a_out.events["clientStatus"] == []
