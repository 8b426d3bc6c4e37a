"""roomTyping and the `typing` server event (CONTRACT §3, §4, §5)."""

import pytest

from chat.models import FriendshipStatus
from chat.tokens import issue_token
from tests.conftest import barrier
from tests.sockets.rooms_support import befriend, direct_chat, group_chat

pytestmark = pytest.mark.django_db(transaction=True)


def typing(chat_id, is_typing=True, name="Someone Else"):
    return {"isTyping": is_typing, "name": name, "chatHeaderId": chat_id}


async def test_typing_reaches_the_rooms_other_sockets_with_the_stored_name(clients, make_user):
    alice, bob, carol, dave = make_user("Alice"), make_user("Bob"), make_user("Carol"), make_user("Dave")
    chat_id = group_chat(alice, bob, carol)
    typer, alice_other_tab = await clients(alice), await clients(alice)
    bob_in_room, carol_not_in_room, stranger = await clients(bob), await clients(carol), await clients(dave)
    for c in (typer, alice_other_tab, bob_in_room):
        await c.call("joinRoom", {"chatHeaderId": chat_id})

    ack = await typer.call("roomTyping", typing(chat_id, name="Mallory"))
    expected = {"name": "Alice", "isTyping": True, "chatHeaderId": chat_id, "userId": str(alice.pk)}
    assert ack == expected
    assert await bob_in_room.received("typing") == [expected]
    assert await alice_other_tab.received("typing") == [expected]  # another socket in the room
    await barrier(typer, carol_not_in_room, stranger)
    assert typer.events["typing"] == []
    assert carol_not_in_room.events["typing"] == []
    assert stranger.events["typing"] == []


async def test_member_who_has_not_joined_may_type(clients, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    chat_id = direct_chat(alice, bob)
    a, b = await clients(alice), await clients(bob)
    await b.call("joinRoom", {"chatHeaderId": chat_id})
    await a.call("roomTyping", typing(chat_id))
    assert (await b.received("typing"))[0]["userId"] == str(alice.pk)


async def test_name_follows_the_stored_display_name(clients, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    chat_id = direct_chat(alice, bob)
    a = await clients(alice)
    make_user("Alice Liddell", id=alice.pk)  # her next token, from another device, carries a new name
    assert (await a.call("roomTyping", typing(chat_id)))["name"] == "Alice Liddell"


async def test_start_and_stop_arrive_in_order(clients, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    chat_id = direct_chat(alice, bob)
    a, b = await clients(alice), await clients(bob)
    await b.call("joinRoom", {"chatHeaderId": chat_id})
    for i in range(10):
        await a.sio.emit("roomTyping", typing(chat_id, i % 2 == 0))  # no ack: fired back to back
    events = await b.received("typing", 10)
    assert [e["isTyping"] for e in events] == [i % 2 == 0 for i in range(10)]


async def test_disconnect_stops_the_typing_it_announced(clients, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    first, second = direct_chat(alice, bob), group_chat(bob, alice)
    third = group_chat(bob, alice, name="Stopped already")
    a, other_tab, b = await clients(alice), await clients(alice), await clients(bob)
    for chat_id in (first, second, third):
        await b.call("joinRoom", {"chatHeaderId": chat_id})
    await a.call("roomTyping", typing(first, True))
    await a.call("roomTyping", typing(second, True))
    await a.call("roomTyping", typing(third, True))
    await a.call("roomTyping", typing(third, False))
    await other_tab.call("roomTyping", typing(first, True))  # the other tab's typing is its own
    await b.received("typing", 5)
    b.events["typing"].clear()

    await a.disconnect()
    stops = await b.received("typing", 2)
    assert sorted((e["chatHeaderId"], e["isTyping"], e["name"]) for e in stops) == [
        (first, False, "Alice"),
        (second, False, "Alice"),
    ]
    await b.barrier()
    assert len(b.events["typing"]) == 2


async def test_not_a_member_is_forbidden_and_nothing_is_sent(clients, make_user):
    alice, bob, carol = make_user("Alice"), make_user("Bob"), make_user("Carol")
    chat_id = direct_chat(bob, carol)
    befriend(alice, bob)  # so that Bob hears Alice go offline: the last thing her disconnect does
    a, b = await clients(alice), await clients(bob)
    await b.call("joinRoom", {"chatHeaderId": chat_id})
    existing = await a.call("roomTyping", typing(chat_id))
    missing = await a.call("roomTyping", typing(chat_id + 1000))
    assert existing["code"] == missing["code"] == "forbidden"
    await b.barrier()
    assert b.events["typing"] == []
    await a.disconnect()  # and its disconnect announces nothing either
    assert await b.wait_for("clientStatus") == {"userId": str(alice.pk), "clientType": "web", "activeNow": False}
    assert b.events["typing"] == []


async def test_typing_across_a_block_is_blocked(clients, make_user):
    alice, bob, carol = make_user("Alice"), make_user("Bob"), make_user("Carol")
    chat_id = direct_chat(alice, bob)
    group_id = group_chat(bob, alice, carol)
    befriend(bob, alice, FriendshipStatus.BLOCKED)
    a, b = await clients(alice), await clients(bob)
    await b.call("joinRoom", {"chatHeaderId": chat_id})
    await b.call("joinRoom", {"chatHeaderId": group_id})
    assert (await a.call("roomTyping", typing(chat_id)))["code"] == "blocked"
    assert (await b.call("roomTyping", typing(chat_id)))["code"] == "blocked"  # either side
    # A group is not a one-to-one conversation: typing there is allowed and announced, but never
    # across the block (CONTRACT §11): Carol hears it, Bob does not.
    c = await clients(carol)
    await c.call("joinRoom", {"chatHeaderId": group_id})
    ack = await a.call("roomTyping", typing(group_id))
    assert ack["chatHeaderId"] == group_id
    (event,) = await c.received("typing")
    assert event == ack
    await b.barrier()
    assert b.events["typing"] == []


async def test_unverified_socket_must_be_verified(clients, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    chat_id = direct_chat(alice, bob)
    a, b = await clients(alice, token=None), await clients(bob)
    await b.call("joinRoom", {"chatHeaderId": chat_id})
    assert (await a.call("roomTyping", typing(chat_id)))["code"] == "unauthorized"
    await b.barrier()
    assert b.events["typing"] == []
    ack = await a.call("roomTyping", {**typing(chat_id), "accessToken": issue_token(alice.pk)})
    assert ack["userId"] == str(alice.pk)
    await b.received("typing")


@pytest.mark.parametrize(
    "payload",
    [
        {"name": "A", "chatHeaderId": 1},
        {"isTyping": True, "chatHeaderId": 1},
        {"isTyping": True, "name": "A"},
        {"isTyping": "yes", "name": "A", "chatHeaderId": 1},
        {"isTyping": 1, "name": "A", "chatHeaderId": 1},
        {"isTyping": True, "name": 5, "chatHeaderId": 1},
        {"isTyping": True, "name": "A", "chatHeaderId": [1]},
    ],
)
async def test_bad_payload_is_invalid(clients, make_user, payload):
    alice = make_user("Alice")
    a = await clients(alice)
    assert (await a.call("roomTyping", payload))["code"] == "invalid"
