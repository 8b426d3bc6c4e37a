"""CONTRACT §4 `readMessage`: members mark a chat read up to its newest message; the room hears it."""

from __future__ import annotations

import pytest
from django.db import transaction

from chat.models import ChatMember
from tests.conftest import barrier, run_sync
from tests.sockets._message_helpers import direct_chat, header, send

pytestmark = pytest.mark.django_db(transaction=True)


def read_mark(user, chat_id):
    return run_sync(lambda: ChatMember.objects.get(user=user, chat_id=chat_id).last_read_message_id)


async def test_spec_example_marks_read_and_tells_the_room(scene):
    s = scene
    sent = [await send(s.a1, s.chat_id, f"m{i}") for i in range(3)]
    assert header(s.bob, s.chat_id)["unreadCount"] == 3
    ack = await s.b1.call("readMessage", {"chatHeaderId": s.chat_id})
    assert ack == {"chatHeaderId": s.chat_id, "lastReadMessageId": sent[-1]["id"], "unreadCount": 0}
    # The spec's one argument, the chat id; then the details in `messageRead` (CONTRACT §5).
    detail = {"chatHeaderId": s.chat_id, "userId": str(s.bob.pk), "lastReadMessageId": sent[-1]["id"]}
    for client in (s.a1, s.b1):
        assert await client.received("messageHasBeenRead", 1) == [s.chat_id]
        assert await client.received("messageRead", 1) == [detail]
    await barrier(s.a2, s.b2, s.c1)
    for client in (s.a2, s.b2, s.c1):
        assert client.events["messageHasBeenRead"] == [] and client.events["messageRead"] == []
    assert header(s.bob, s.chat_id)["unreadCount"] == 0
    assert read_mark(s.bob, s.chat_id) == sent[-1]["id"]
    bob_member = next(m for m in header(s.alice, s.chat_id)["members"] if m["userId"] == str(s.bob.pk))
    assert bob_member["lastReadMessageId"] == sent[-1]["id"]


async def test_unread_counts_after_sends_and_reads(scene):
    s = scene
    await send(s.a1, s.chat_id, "a")
    await send(s.b1, s.chat_id, "b")
    await s.b1.call("readMessage", {"chatHeaderId": s.chat_id})
    assert (header(s.alice, s.chat_id)["unreadCount"], header(s.bob, s.chat_id)["unreadCount"]) == (1, 0)
    await send(s.a1, s.chat_id, "c")
    await send(s.a1, s.chat_id, "d")
    assert (header(s.alice, s.chat_id)["unreadCount"], header(s.bob, s.chat_id)["unreadCount"]) == (1, 2)
    await s.a1.call("readMessage", {"chatHeaderId": s.chat_id, "accessToken": ""})
    assert header(s.alice, s.chat_id)["unreadCount"] == 0


async def test_empty_chat_and_deleted_newest(scene):
    s = scene
    ack = await s.b1.call("readMessage", {"chatHeaderId": s.chat_id})
    assert ack == {"chatHeaderId": s.chat_id, "lastReadMessageId": None, "unreadCount": 0}
    first = await send(s.a1, s.chat_id, "one")
    second = await send(s.a1, s.chat_id, "two")
    await s.b1.call("readMessage", {"chatHeaderId": s.chat_id})
    await s.a1.call("removeMessage", {"id": second["id"], "chatHeaderId": s.chat_id})
    # The read mark is a high-water mark: it does not move back to the newest visible message.
    ack = await s.b1.call("readMessage", {"chatHeaderId": s.chat_id})
    assert ack["lastReadMessageId"] == second["id"] > first["id"]
    assert header(s.bob, s.chat_id)["unreadCount"] == 0


async def test_only_members(scene):
    s = scene
    await send(s.a1, s.chat_id, "x")
    answers = [
        await s.c1.call("readMessage", {"chatHeaderId": s.chat_id}),
        await s.c1.call("readMessage", {"chatHeaderId": 424_242}),
    ]
    assert answers[0] == answers[1] and answers[0]["code"] == "forbidden"
    await s.a1.barrier()
    assert s.a1.events["messageHasBeenRead"] == []
    assert read_mark(s.carol, direct_chat(s.carol, s.alice)) is None


async def test_push_hook_hears_the_read_inside_the_transaction(scene, monkeypatch):
    from notifications import services as notification_services

    calls = []

    def record(*, user, chat_id, last_read_message_id):
        calls.append((user.pk, chat_id, last_read_message_id, transaction.get_connection().in_atomic_block))

    monkeypatch.setattr(notification_services, "chat_read", record)
    s = scene
    sent = await send(s.a1, s.chat_id, "x")
    await s.b1.call("readMessage", {"chatHeaderId": s.chat_id})
    assert calls == [(s.bob.pk, s.chat_id, sent["id"], True)]
