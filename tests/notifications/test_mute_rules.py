"""Mute and do-not-disturb in the push rules (CONTRACT §9), through a live server and real sockets,
and `GET`/`PUT /api/notifications/settings`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from asgiref.sync import sync_to_async

from chat.models import ChatMember
from chat.services.chats import chat_direct_get_or_create
from notifications.models import NotificationSettings
from tests.conftest import run_sync
from tests.notifications.conftest import add_device, delivered, recipients

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api():
    """`api(user)`: a DRF test client with the user's Bearer token; `api()` has none."""
    from rest_framework.test import APIClient

    from chat.tokens import issue_token

    def factory(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_token(user.pk)}")
        return client

    return factory


@pytest.fixture
def trio(make_user):
    alice, bob, carol = make_user("Alice"), make_user("Bob"), make_user("Carol")
    for user in (bob, carol):
        add_device(user)
    bob_chat, _ = run_sync(chat_direct_get_or_create, user=alice, other=bob)
    carol_chat, _ = run_sync(chat_direct_get_or_create, user=alice, other=carol)
    return alice, bob, carol, bob_chat.pk, carol_chat.pk


async def send(client, chat_id: int, text: str = "hello") -> None:
    ack = await client.call("createMessage", {"chatHeaderId": chat_id, "message": text, "messageType": 0})
    assert "chatMessage" in ack, ack


async def test_a_muted_chat_sends_no_message_push_but_the_read_clear_still_goes(clients, outbox, trio):
    alice, bob, carol, bob_chat, carol_chat = trio
    a, b = await clients(alice), await clients(bob)
    await send(a, bob_chat, "before the mute")
    await delivered()
    assert recipients(outbox) == [str(bob.pk)]

    assert (await b.call("muteChat", {"chatHeaderId": bob_chat}))["mutedUntil"] is not None
    await send(a, bob_chat, "while muted")
    await send(a, carol_chat, "another chat")  # only the muted chat is silent
    await delivered()
    assert recipients(outbox) == sorted([str(bob.pk), str(carol.pk)])
    headers = await b.call("findAllChatHeaders", {})
    assert headers["items"][0]["unreadCount"] == 2  # unread counts are unchanged

    await b.call("readMessage", {"chatHeaderId": bob_chat})
    await delivered()
    assert recipients(outbox, kind="read") == [str(bob.pk)]

    await b.call("unmuteChat", {"chatHeaderId": bob_chat})
    await send(a, bob_chat, "after the mute")
    await delivered()
    assert recipients(outbox).count(str(bob.pk)) == 2


async def test_a_mute_that_ended_pushes_again(clients, outbox, trio):
    alice, bob, _, bob_chat, _ = trio
    ended = datetime.now(UTC) - timedelta(seconds=1)
    run_sync(lambda: ChatMember.objects.filter(user=bob, chat_id=bob_chat).update(muted_until=ended))
    await send(await clients(alice), bob_chat)
    await delivered()
    assert recipients(outbox) == [str(bob.pk)]


async def test_do_not_disturb_stops_every_message_push_until_it_ends(clients, outbox, trio, api):
    alice, bob, carol, bob_chat, carol_chat = trio
    until = (datetime.now(UTC) + timedelta(hours=8)).replace(microsecond=0)
    answer = await run_put(api(bob), {"doNotDisturbUntil": until.isoformat()})
    assert answer == {"doNotDisturbUntil": until.strftime("%Y-%m-%dT%H:%M:%S.000Z")}
    a = await clients(alice)
    await send(a, bob_chat)
    await send(a, carol_chat)
    await delivered()
    assert recipients(outbox) == [str(carol.pk)]

    ended = datetime.now(UTC) - timedelta(seconds=1)
    run_sync(lambda: NotificationSettings.objects.filter(user=bob).update(do_not_disturb_until=ended))
    await send(a, bob_chat)
    await delivered()
    assert str(bob.pk) in recipients(outbox)


async def run_put(client, body):
    response = await sync_to_async(client.put)("/api/notifications/settings", body, format="json")
    assert response.status_code == 200, response.content
    return response.json()["data"]


def test_settings_get_and_put(api, make_user):
    bob = make_user("Bob")
    client = api(bob)
    assert client.get("/api/notifications/settings").json()["data"] == {"doNotDisturbUntil": None}
    put = client.put("/api/notifications/settings", {"doNotDisturbUntil": "2999-01-02T03:04:05"}, format="json")
    assert put.status_code == 200 and put.json()["data"] == {"doNotDisturbUntil": "2999-01-02T03:04:05.000Z"}
    assert client.get("/api/notifications/settings").json()["data"] == {"doNotDisturbUntil": "2999-01-02T03:04:05.000Z"}
    # A time in the past, or null, turns it off.
    for off in ("2001-01-01T00:00:00Z", None):
        client.put("/api/notifications/settings", {"doNotDisturbUntil": "2999-01-01T00:00:00Z"}, format="json")
        put = client.put("/api/notifications/settings", {"doNotDisturbUntil": off}, format="json")
        assert put.json()["data"] == {"doNotDisturbUntil": None}
    assert api().get("/api/notifications/settings").status_code == 401


@pytest.mark.parametrize("body", [{"doNotDisturbUntil": "soon"}, {"doNotDisturbUntil": 5}, {}])
def test_settings_refuse_what_is_not_a_time(api, make_user, body):
    bob = make_user("Bob")
    client = api(bob)
    client.put("/api/notifications/settings", {"doNotDisturbUntil": "2999-01-01T00:00:00Z"}, format="json")
    put = client.put("/api/notifications/settings", body, format="json")
    assert put.status_code == 400 and put.json()["code"] == "invalid", put.content
    assert client.get("/api/notifications/settings").json()["data"] == {"doNotDisturbUntil": "2999-01-01T00:00:00.000Z"}
