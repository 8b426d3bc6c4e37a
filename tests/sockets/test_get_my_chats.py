"""getMyChats (spec, CONTRACT §4): one-to-one chats with the other user, last message, unread, status."""

import pytest

from chat.models import FriendshipStatus
from chat.tokens import issue_token
from tests.sockets.rooms_support import befriend, delete_message, direct_chat, group_chat, send

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_rate_limit(settings):
    """These tests write many messages through the real service; the limit is not what they test."""
    settings.CHAT_RATE_LIMIT = "0"


ITEM_KEYS = {
    "chatHeaderId",
    "userId",
    "userName",
    "userAvatar",
    "lastMessage",
    "lastMessageTime",
    "creationTime",
    "isOnline",
    "unreadCount",
    "friendshipStatus",
    "mutedUntil",  # CONTRACT §9
    "lastSeen",  # CONTRACT §9
}


async def test_one_to_one_chats_only_ordered_by_last_message_then_newest(clients, make_user):
    alice = make_user("Alice")
    bob, carol, dave, erin = (
        make_user("Bob"),
        make_user("Carol", picture="https://example.com/c.png"),
        make_user("Dave"),
        make_user("Erin"),
    )
    befriend(alice, bob)
    with_bob = direct_chat(alice, bob)
    with_carol = direct_chat(alice, carol)
    empty_old = direct_chat(alice, dave)
    empty_new = direct_chat(erin, alice)
    group_chat(alice, bob)  # groups are not listed
    direct_chat(bob, carol)  # not Alice's
    send(carol, with_carol, "first")
    send(bob, with_bob, "hi")
    send(bob, with_bob, "are you there?")
    send(alice, with_carol, "latest")
    befriend(carol, alice, FriendshipStatus.BLOCKED)  # after the messages: a block stops new ones

    a = await clients(alice)
    chats = await a.call("getMyChats", {"accessToken": issue_token(alice.pk)})
    assert [c["chatHeaderId"] for c in chats] == [with_carol, with_bob, empty_new, empty_old]
    for c in chats:
        assert set(c) == ITEM_KEYS
        assert isinstance(c["chatHeaderId"], int) and isinstance(c["unreadCount"], int)
        assert isinstance(c["userId"], str) and isinstance(c["userName"], str) and isinstance(c["isOnline"], bool)
        assert c["creationTime"].endswith("Z")
    carol_chat, bob_chat, erin_chat, _ = chats
    assert carol_chat["userId"] == str(carol.pk) and carol_chat["userName"] == "Carol"
    assert carol_chat["userAvatar"] == "https://example.com/c.png"
    assert carol_chat["lastMessage"] == "latest" and carol_chat["unreadCount"] == 1
    assert carol_chat["lastMessageTime"].endswith("Z") and carol_chat["creationTime"].endswith("Z")
    assert carol_chat["friendshipStatus"] == 3
    assert bob_chat["lastMessage"] == "are you there?" and bob_chat["unreadCount"] == 2
    assert bob_chat["friendshipStatus"] == 1 and bob_chat["isOnline"] is False and bob_chat["userAvatar"] is None
    assert erin_chat["lastMessage"] is None and erin_chat["lastMessageTime"] is None
    assert erin_chat["friendshipStatus"] is None and erin_chat["unreadCount"] == 0


async def test_deleted_last_message_falls_back_to_the_previous_one(clients, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    chat_id = direct_chat(alice, bob)
    send(bob, chat_id, "kept")
    delete_message(send(bob, chat_id, "oops"))
    a = await clients(alice)
    (item,) = await a.call("getMyChats")
    assert item["lastMessage"] == "kept" and item["unreadCount"] == 1


async def test_no_payload_at_all_uses_the_sockets_identity(clients, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    direct_chat(alice, bob)
    a = await clients(alice)
    assert len(await a.call("getMyChats")) == 1
    assert len(await a.call("getMyChats", {})) == 1


async def test_unverified_socket_and_foreign_token(clients, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    a = await clients(alice, token=None)
    assert (await a.call("getMyChats"))["code"] == "unauthorized"
    assert (await a.call("getMyChats", {"accessToken": issue_token(bob.pk)}))["code"] == "forbidden"
    assert await a.call("getMyChats", {"accessToken": issue_token(alice.pk)}) == []
    assert (await a.call("getMyChats", {"accessToken": issue_token(bob.pk)}))["code"] == "forbidden"
