"""`sync` and `markDelivered` over a real connection (CONTRACT §9): answers, errors, the live event."""

import pytest

from tests.sockets.rooms_support import direct_chat, group_chat

pytestmark = pytest.mark.django_db(transaction=True)


async def test_sync_answers_what_changed_since_the_cursor(clients, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    chat_id = direct_chat(alice, bob)
    a, b = await clients(alice), await clients(bob)
    start = await b.call("sync", {"since": None})
    assert start["changes"] == [] and start["hasMore"] is False and isinstance(start["cursor"], int)
    sent = (await a.call("createMessage", {"chatHeaderId": chat_id, "message": "hi", "messageType": 0}))["chatMessage"]
    await a.call("updateMessage", {"id": sent["id"], "chatHeaderId": chat_id, "message": "hi!"})
    page = await b.call("sync", {"since": start["cursor"], "limit": 1})
    assert page["hasMore"] is True and [c["type"] for c in page["changes"]] == ["message.created"]
    created = page["changes"][0]
    assert set(created) == {"seq", "type", "chatHeaderId", "at", "data"}
    assert created["seq"] == sent["seq"] and created["chatHeaderId"] == chat_id
    assert created["data"]["message"] == "hi!" and created["data"]["seq"] > sent["seq"]  # as it is now
    rest = await b.call("sync", {"since": page["cursor"]})
    assert [c["type"] for c in rest["changes"]] == ["message.updated"] and rest["hasMore"] is False
    assert rest["cursor"] == created["data"]["seq"]


@pytest.mark.parametrize(
    "payload",
    [{}, {"since": "soon"}, {"since": -1}, {"since": 1, "limit": 0}, {"since": 1, "limit": 1.5}, []],
)
async def test_sync_refuses_bad_payloads_as_invalid(clients, make_user, payload):
    a = await clients(make_user("Alice"))
    answer = await a.call("sync", payload)
    assert answer["code"] == "invalid", answer


async def test_mark_delivered_moves_the_mark_and_tells_the_room(clients, make_user):
    alice, bob, carol = make_user("Alice"), make_user("Bob"), make_user("Carol")
    chat_id = group_chat(alice, bob)
    a, b, c = await clients(alice), await clients(bob), await clients(carol)
    for client in (a, b):
        await client.call("joinRoom", {"chatHeaderId": chat_id})
    sent = (await a.call("createMessage", {"chatHeaderId": chat_id, "message": "hi", "messageType": 0}))["chatMessage"]
    ack = await b.call("markDelivered", {"chatHeaderId": chat_id, "lastMessageId": sent["id"] + 1000})
    assert ack == {"chatHeaderId": chat_id, "lastDeliveredMessageId": sent["id"]}  # clamped to the newest
    event = {"chatHeaderId": chat_id, "userId": str(bob.pk), "lastDeliveredMessageId": sent["id"]}
    assert await a.received("messageDelivered") == [event]
    # Again, or lower: the same answer, nothing announced.
    assert await b.call("markDelivered", {"chatHeaderId": chat_id, "lastMessageId": 1}) == ack
    headers = await a.call("findAllChatHeaders", {})
    bob_member = next(m for m in headers["items"][0]["members"] if m["userId"] == str(bob.pk))
    assert bob_member["lastDeliveredMessageId"] == sent["id"]
    assert (await c.call("markDelivered", {"chatHeaderId": chat_id, "lastMessageId": 1}))["code"] == "forbidden"
    await a.barrier()
    assert a.events["messageDelivered"] == [event]
