"""leaveRoom (CONTRACT §4): leaves the room, ends viewing for that socket only; idempotent."""

import pytest

from chat.events import chat_room
from chat.sockets.server import sio
from chat.state.store import get_state
from chat.tokens import issue_token
from tests.sockets.rooms_support import direct_chat, group_chat

pytestmark = pytest.mark.django_db(transaction=True)


def typing(chat_id, is_typing=True):
    return {"isTyping": is_typing, "name": "x", "chatHeaderId": chat_id}


async def test_leave_ends_viewing_and_room_traffic(clients, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    chat_id = direct_chat(alice, bob)
    a, b = await clients(alice), await clients(bob)
    await a.call("joinRoom", {"chatHeaderId": chat_id})
    await b.call("joinRoom", {"chatHeaderId": chat_id})
    assert await get_state().presence.viewing_user_ids(chat_id) == {str(alice.pk), str(bob.pk)}

    ack = await a.call("leaveRoom", {"chatHeaderId": chat_id, "accessToken": None})
    assert ack == {"chatHeaderId": chat_id, "left": True}
    assert await get_state().presence.viewing_user_ids(chat_id) == {str(bob.pk)}
    assert chat_room(chat_id) not in sio.rooms(a.sio.get_sid())

    await b.call("roomTyping", typing(chat_id))
    await a.barrier()
    assert a.events["typing"] == []


async def test_leave_is_idempotent(clients, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    chat_id = direct_chat(alice, bob)
    a = await clients(alice)
    never_joined = await a.call("leaveRoom", {"chatHeaderId": str(chat_id)})
    assert never_joined == {"chatHeaderId": chat_id, "left": True}
    await a.call("joinRoom", {"chatHeaderId": chat_id})
    for _ in range(2):
        assert await a.call("leaveRoom", {"chatHeaderId": chat_id}) == {"chatHeaderId": chat_id, "left": True}
    assert await get_state().presence.viewing_user_ids(chat_id) == set()


async def test_viewing_is_per_socket(clients, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    chat_id = group_chat(alice, bob)
    phone, laptop, b = await clients(alice), await clients(alice), await clients(bob)
    await phone.call("joinRoom", {"chatHeaderId": chat_id})
    await laptop.call("joinRoom", {"chatHeaderId": chat_id})
    await laptop.call("leaveRoom", {"chatHeaderId": chat_id})
    assert await get_state().presence.viewing_user_ids(chat_id) == {str(alice.pk)}  # the phone still looks at it
    await b.call("roomTyping", typing(chat_id))
    await phone.received("typing")
    await laptop.barrier()
    assert laptop.events["typing"] == []


async def test_leaving_stops_the_typing_it_announced(clients, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    chat_id = direct_chat(alice, bob)
    a, b = await clients(alice), await clients(bob)
    await a.call("joinRoom", {"chatHeaderId": chat_id})
    await b.call("joinRoom", {"chatHeaderId": chat_id})
    await a.call("roomTyping", typing(chat_id, True))
    await a.call("leaveRoom", {"chatHeaderId": chat_id})
    events = await b.received("typing", 2)
    assert [e["isTyping"] for e in events] == [True, False]
    assert events[1] == {"name": "Alice", "isTyping": False, "chatHeaderId": chat_id, "userId": str(alice.pk)}


async def test_not_a_member_is_forbidden(clients, make_user):
    alice, bob, carol = make_user("Alice"), make_user("Bob"), make_user("Carol")
    chat_id = direct_chat(bob, carol)
    a = await clients(alice)
    existing = await a.call("leaveRoom", {"chatHeaderId": chat_id})
    missing = await a.call("leaveRoom", {"chatHeaderId": chat_id + 1000})
    assert existing["code"] == missing["code"] == "forbidden"


async def test_unverified_socket_is_unauthorized(clients, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    chat_id = direct_chat(alice, bob)
    a = await clients(alice, token=None)
    assert (await a.call("leaveRoom", {"chatHeaderId": chat_id}))["code"] == "unauthorized"
    assert (await a.call("leaveRoom", {"chatHeaderId": chat_id, "accessToken": "x.y.z"}))["code"] == "unauthorized"
    ack = await a.call("leaveRoom", {"chatHeaderId": chat_id, "accessToken": issue_token(alice.pk)})
    assert ack == {"chatHeaderId": chat_id, "left": True}


async def test_token_of_another_user_is_forbidden(clients, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    chat_id = direct_chat(alice, bob)
    a = await clients(alice)
    await a.call("joinRoom", {"chatHeaderId": chat_id})
    answer = await a.call("leaveRoom", {"chatHeaderId": chat_id, "accessToken": issue_token(bob.pk)})
    assert answer["code"] == "forbidden"
    assert await get_state().presence.viewing_user_ids(chat_id) == {str(alice.pk)}  # nothing changed


@pytest.mark.parametrize("payload", [{}, {"chatHeaderId": None}, {"chatHeaderId": "abc"}, {"chatHeaderId": 1.5}])
async def test_bad_payload_is_invalid(clients, make_user, payload):
    alice = make_user("Alice")
    a = await clients(alice)
    assert (await a.call("leaveRoom", payload))["code"] == "invalid"
