"""CONTRACT §2 over a live socket: `joinRoom` with the `otherUserId` of a user this server never saw
(the spec's "Full Chat Integration Example": Bob's token has not reached us yet)."""

import uuid

import pytest

from chat.models import ChatHeader, User
from chat.tokens import issue_token
from tests.conftest import run_sync

pytestmark = pytest.mark.django_db(transaction=True)


async def test_join_room_with_a_user_never_seen_then_their_first_token(clients, make_user):
    alice = make_user("Alice")
    bob_id = uuid.uuid4()
    a = await clients(alice, token=None)  # the spec's ChatClient: userId only, a token in each payload
    token = issue_token(alice.pk)
    ack = await a.call("joinRoom", {"otherUserId": str(bob_id), "userId": str(alice.pk), "accessToken": token})
    assert ack.get("joined") is True, ack
    assert ack["chatHeader"]["name"] is None and ack["chatHeader"]["avatar"] is None
    bob_member = next(m for m in ack["members"] if m["userId"] == str(bob_id))
    assert (bob_member["name"], bob_member["avatar"], bob_member["isOnline"]) == (None, None, False)
    chat_id = ack["chatHeaderId"]
    sent = await a.call(
        "createMessage", {"chatHeaderId": chat_id, "message": "Hi Bob", "messageType": 0, "accessToken": token}
    )
    assert sent["chatMessage"]["message"] == "Hi Bob"

    # Bob arrives with his first token: he is the same user, named now, and finds the message.
    bob = run_sync(User.objects.get, pk=bob_id)
    b = await clients(bob, token=issue_token(bob_id, name="Bob"))
    joined = await b.call("joinRoom", {"otherUserId": str(alice.pk)})
    assert joined["chatHeaderId"] == chat_id
    page = await b.call("findAllMessages", {"chatHeaderId": chat_id})
    assert [m["message"] for m in page["items"]] == ["Hi Bob"]
    again = await a.call("joinRoom", {"chatHeaderId": chat_id})
    assert again["chatHeader"]["name"] == "Bob"
    assert run_sync(ChatHeader.objects.count) == 1 and run_sync(User.objects.count) == 2


async def test_provisioning_off_and_malformed(clients, make_user, settings):
    alice = make_user("Alice")
    a = await clients(alice)
    assert (await a.call("joinRoom", {"otherUserId": "not-a-guid"}))["code"] == "invalid"
    settings.CHAT_PROVISION_REFERENCED_USERS = False
    assert (await a.call("joinRoom", {"otherUserId": str(uuid.uuid4())}))["code"] == "not_found"
    assert run_sync(User.objects.count) == 1


async def test_a_rate_limited_join_leaves_no_placeholder_behind(clients, make_user, settings):
    settings.CHAT_RATE_LIMIT_NEW_CHATS = "1/1min"
    alice = make_user("Alice")
    a = await clients(alice)
    assert (await a.call("joinRoom", {"otherUserId": str(uuid.uuid4())}))["joined"] is True
    ack = await a.call("joinRoom", {"otherUserId": str(uuid.uuid4())})
    assert ack["code"] == "rate_limited", ack
    assert run_sync(User.objects.count) == 2 and run_sync(ChatHeader.objects.count) == 1
