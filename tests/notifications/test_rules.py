"""Who gets a push (CONTRACT §7, the spec's joinRoom/leaveRoom): through a live server, real sockets,
createMessage, joinRoom and leaveRoom, with the locmem backend."""

from __future__ import annotations

import pytest

from chat.services.chats import chat_direct_get_or_create
from chat.services.friendships import friendship_block
from chat.services.groups import group_create, group_member_remove
from tests.conftest import run_sync
from tests.notifications.conftest import add_device, delivered, push_rows, recipients

pytestmark = pytest.mark.django_db(transaction=True)


def direct(a, b) -> int:
    chat, _ = run_sync(chat_direct_get_or_create, user=a, other=b)
    return chat.pk


async def send(client, chat_id: int, text: str = "hello") -> dict:
    ack = await client.call("createMessage", {"chatHeaderId": chat_id, "message": text, "messageType": 0})
    assert "chatMessage" in ack, ack
    return ack["chatMessage"]


async def join(client, chat_id: int) -> None:
    ack = await client.call("joinRoom", {"chatHeaderId": chat_id})
    assert ack.get("joined") is True, ack


async def leave(client, chat_id: int) -> None:
    ack = await client.call("leaveRoom", {"chatHeaderId": chat_id})
    assert ack.get("left") is True, ack


@pytest.fixture
def pair(make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    add_device(alice)
    add_device(bob)
    return alice, bob, direct(alice, bob)


async def test_offline_member_gets_a_push(clients, outbox, pair):
    alice, bob, chat_id = pair
    sender = await clients(alice)
    await send(sender, chat_id)
    await delivered()
    assert recipients(outbox) == [str(bob.pk)]


async def test_online_member_who_never_joined_the_room_gets_a_push(clients, outbox, pair):
    alice, bob, chat_id = pair
    sender = await clients(alice)
    await clients(bob)  # online, on the chat list for instance
    await send(sender, chat_id)
    await delivered()
    assert recipients(outbox) == [str(bob.pk)]


async def test_member_viewing_the_chat_gets_no_push(clients, outbox, pair):
    alice, bob, chat_id = pair
    sender = await clients(alice)
    await join(await clients(bob), chat_id)
    await send(sender, chat_id)
    await delivered()
    assert recipients(outbox) == []
    assert push_rows() == []


async def test_member_after_leave_room_gets_a_push_again(clients, outbox, pair):
    alice, bob, chat_id = pair
    sender = await clients(alice)
    viewer = await clients(bob)
    await join(viewer, chat_id)
    await send(sender, chat_id, "while viewing")
    await leave(viewer, chat_id)
    await send(sender, chat_id, "after leaving")
    await delivered()
    assert [p.body for p in outbox] == ["after leaving"]


async def test_disconnect_ends_viewing(clients, outbox, pair):
    alice, bob, chat_id = pair
    sender = await clients(alice)
    viewer = await clients(bob)
    await join(viewer, chat_id)
    await viewer.disconnect()
    # Bob going offline is the last thing his disconnect does, after his viewing ended.
    await sender.until(
        lambda: {"userId": str(bob.pk), "clientType": "web", "activeNow": False} in sender.events["clientStatus"]
    )
    await send(sender, chat_id)
    await delivered()
    assert recipients(outbox) == [str(bob.pk)]


async def test_one_push_per_device_and_none_while_any_socket_views(clients, outbox, pair):
    alice, bob, chat_id = pair
    add_device(bob, platform="ios")  # Bob has a phone and a tablet registered
    sender = await clients(alice)
    phone, laptop = await clients(bob), await clients(bob)

    await send(sender, chat_id, "both devices")
    await delivered()
    assert recipients(outbox) == [str(bob.pk)] * 2
    assert sorted(p.platform for p in outbox) == ["android", "ios"]

    outbox.clear()
    await join(laptop, chat_id)  # one socket views the chat: Bob is reading it, no device is pushed
    await send(sender, chat_id, "laptop is viewing")
    await delivered()
    assert recipients(outbox) == []
    assert phone.sio.connected


async def test_sender_never_gets_a_push_for_their_own_message(clients, outbox, pair):
    alice, bob, chat_id = pair
    add_device(alice, platform="ios")
    sender = await clients(alice)  # not viewing the chat either
    await send(sender, chat_id)
    await delivered()
    assert str(alice.pk) not in recipients(outbox)
    assert recipients(outbox) == [str(bob.pk)]


async def test_blocked_users_get_no_push_in_a_group_and_cannot_be_messaged_directly(clients, outbox, make_user):
    alice, bob, carol = make_user("Alice"), make_user("Bob"), make_user("Carol")
    for user in (alice, bob, carol):
        add_device(user)
    group = run_sync(group_create, creator=alice, name="Team", member_ids=[bob.pk, carol.pk])
    one_to_one = direct(alice, carol)
    run_sync(friendship_block, user=carol, other=alice)  # Carol blocked Alice after the group existed

    sender = await clients(alice)
    await send(sender, group.pk)
    refused = await sender.call("createMessage", {"chatHeaderId": one_to_one, "message": "hi", "messageType": 0})
    assert refused["code"] == "blocked"
    await delivered()
    assert recipients(outbox) == [str(bob.pk)]


async def test_group_of_five_with_mixed_states(clients, outbox, make_user):
    """Alice sends; Bob is offline, Carol online elsewhere, Dave viewing, Erin viewed and left;
    Frank was removed from the group. Pushes: Bob, Carol, Erin."""
    alice, bob, carol, dave, erin, frank = (make_user(n) for n in ("Alice", "Bob", "Carol", "Dave", "Erin", "Frank"))
    for user in (alice, bob, carol, dave, erin, frank):
        add_device(user)
    group = run_sync(
        group_create, creator=alice, name="Five", member_ids=[bob.pk, carol.pk, dave.pk, erin.pk, frank.pk]
    )
    run_sync(group_member_remove, actor=alice, chat_id=group.pk, user_id=frank.pk)

    sender = await clients(alice)
    await join(sender, group.pk)
    await clients(carol)
    await join(await clients(dave), group.pk)
    erin_socket = await clients(erin)
    await join(erin_socket, group.pk)
    await leave(erin_socket, group.pk)
    await clients(frank)

    message = await send(sender, group.pk, "hello all")
    await delivered()
    assert recipients(outbox) == sorted(str(u.pk) for u in (bob, carol, erin))
    assert {p.title for p in outbox} == {"Alice · Five"}
    assert {p.data["messageId"] for p in outbox} == {str(message["id"])}
