"""getMyFriendships (spec, CONTRACT §4): accepted friends with presence and their one-to-one chat."""

import pytest

from chat.models import FriendshipStatus
from chat.tokens import issue_token
from tests.sockets.rooms_support import befriend, direct_chat

pytestmark = pytest.mark.django_db(transaction=True)


async def test_accepted_friends_only_by_name_with_their_chat(clients, make_user):
    alice = make_user("Alice")
    zoe, bob = make_user("zoe", picture="https://example.com/z.png"), make_user("Bob")
    pending, rejected, blocked = make_user("Pending"), make_user("Rejected"), make_user("Blocked")
    befriend(alice, zoe)
    befriend(bob, alice)  # either direction
    befriend(alice, pending, FriendshipStatus.PENDING)
    befriend(alice, rejected, FriendshipStatus.REJECTED)
    befriend(alice, blocked, FriendshipStatus.BLOCKED)
    chat_id = direct_chat(alice, zoe)
    z = await clients(zoe)

    a = await clients(alice)
    friends = await a.call("getMyFriendships", {"accessToken": issue_token(alice.pk)})
    assert friends == [
        {
            "userId": str(bob.pk),
            "name": "Bob",
            "avatar": None,
            "isOnline": False,
            "chatHeaderId": None,
            "lastSeen": None,  # never connected
        },
        {
            "userId": str(zoe.pk),
            "name": "zoe",
            "avatar": "https://example.com/z.png",
            "isOnline": True,
            "chatHeaderId": chat_id,
            "lastSeen": None,  # online
        },
    ]
    assert z.sio.connected


async def test_a_null_chat_header_id_is_filled_by_join_room(clients, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    befriend(alice, bob)
    a = await clients(alice)
    (friend,) = await a.call("getMyFriendships")
    assert friend["chatHeaderId"] is None
    joined = await a.call("joinRoom", {"otherUserId": friend["userId"]})
    (friend,) = await a.call("getMyFriendships", {})
    assert friend["chatHeaderId"] == joined["chatHeaderId"]


async def test_no_friends_is_an_empty_array(clients, make_user):
    a = await clients(make_user("Alice"))
    assert await a.call("getMyFriendships") == []


async def test_unverified_socket_and_foreign_token(clients, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    a = await clients(alice, token=None)
    assert (await a.call("getMyFriendships"))["code"] == "unauthorized"
    assert (await a.call("getMyFriendships", {"accessToken": issue_token(bob.pk)}))["code"] == "forbidden"
    verified = await clients(alice)
    assert (await verified.call("getMyFriendships", {"accessToken": issue_token(bob.pk)}))["code"] == "forbidden"
