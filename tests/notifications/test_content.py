"""What a push says (CONTRACT §7), the badge, and the data-only push that clears other devices."""

from __future__ import annotations

import json

import pytest

from chat.models import ChatHeader, ChatMessage, ChatType, MessageType, User
from chat.services.chats import chat_direct_get_or_create
from chat.services.groups import group_create
from notifications import content
from tests.conftest import run_sync
from tests.notifications.conftest import add_device, delivered, push_rows, recipients


def _message(message_type=MessageType.TEXT, text="hi", caption="", group_name=None, sender_name="Alice"):
    chat = ChatHeader(
        pk=7, chat_type=ChatType.GROUP if group_name is not None else ChatType.INDIVIDUAL, name=group_name or ""
    )
    sender = User(name=sender_name)
    return ChatMessage(pk=42, chat=chat, sender=sender, message_type=message_type, message=text, caption=caption)


def test_title_is_the_sender_or_sender_and_group():
    msg = _message()
    assert content.message_title(msg, msg.chat) == "Alice"
    msg = _message(group_name="Climbing")
    assert content.message_title(msg, msg.chat) == "Alice · Climbing"


def test_text_body_is_cut_at_200_characters():
    assert content.message_body(_message(text="  short  ")) == "short"
    body = content.message_body(_message(text="x" * 500))
    assert len(body) == 200 and body.endswith("…")
    assert content.message_body(_message(text="y" * 200)) == "y" * 200


@pytest.mark.parametrize(
    ("message_type", "label"),
    [
        (MessageType.IMAGE, "📷 Photo"),
        (MessageType.AUDIO, "🎤 Audio"),
        (MessageType.VIDEO, "🎥 Video"),
        (MessageType.FILE, "📎 File"),
    ],
)
def test_media_body_is_a_label_with_the_caption(message_type, label):
    path = "/uploads/chat-messages/images/abc.webp"
    assert content.message_body(_message(message_type, path)) == label
    assert content.message_body(_message(message_type, path, caption="At the top")) == f"{label}: At the top"
    assert path not in content.message_body(_message(message_type, path, caption="c"))


def test_data_values_are_strings():
    msg = _message(MessageType.IMAGE)
    msg.chat_id, msg.sender_id = 7, "0b4b0b8e-0000-4000-8000-000000000001"
    data = content.message_data(msg)
    assert data == {
        "type": "message",
        "chatHeaderId": "7",
        "messageId": "42",
        "messageType": "2",
        "senderId": "0b4b0b8e-0000-4000-8000-000000000001",
    }
    assert all(isinstance(v, str) for v in data.values())


@pytest.mark.django_db(transaction=True)
async def test_badge_is_the_recipients_unread_total_over_all_chats(clients, outbox, make_user):
    alice, bob, carol = make_user("Alice"), make_user("Bob"), make_user("Carol")
    add_device(bob)
    with_alice, _ = run_sync(chat_direct_get_or_create, user=alice, other=bob)
    with_carol, _ = run_sync(chat_direct_get_or_create, user=carol, other=bob)
    group = run_sync(group_create, creator=carol, name="G", member_ids=[bob.pk, alice.pk])
    a, c = await clients(alice), await clients(carol)
    for client, chat_id in ((c, with_carol.pk), (c, group.pk), (a, with_alice.pk), (a, with_alice.pk)):
        ack = await client.call("createMessage", {"chatHeaderId": chat_id, "message": "m", "messageType": 0})
        assert "chatMessage" in ack
    await delivered()
    assert recipients(outbox) == [str(bob.pk)] * 4
    # Each push counts what was unread when it left; the last one everything: 1 + 1 + 2.
    assert max(p.badge for p in outbox) == 4
    assert outbox[-1].data["chatHeaderId"] == str(with_alice.pk)


@pytest.mark.django_db(transaction=True)
async def test_reading_on_one_device_sends_a_data_only_push_to_the_others(clients, outbox, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    phone, tablet = add_device(bob), add_device(bob, platform="ios")
    chat, _ = run_sync(chat_direct_get_or_create, user=alice, other=bob)
    sender = await clients(alice)
    await sender.call("createMessage", {"chatHeaderId": chat.pk, "message": "ping", "messageType": 0})
    await delivered()
    assert recipients(outbox) == [str(bob.pk)] * 2

    reader = await clients(bob)  # e.g. the web app
    ack = await reader.call("readMessage", {"chatHeaderId": chat.pk})
    await delivered()
    reads = [p for p in outbox if p.kind == "read"]
    assert sorted(p.token for p in reads) == sorted([phone.token, tablet.token])
    for push in reads:
        assert push.data_only and push.title == "" and push.body == ""
        assert push.data == {
            "type": "read",
            "chatHeaderId": str(chat.pk),
            "lastReadMessageId": str(ack["lastReadMessageId"]),
        }
        assert push.badge == 0

    # Nothing new to clear: reading again sends nothing.
    await reader.call("readMessage", {"chatHeaderId": chat.pk})
    await delivered()
    assert len([p for p in outbox if p.kind == "read"]) == 2


@pytest.mark.django_db(transaction=True)
def test_a_push_still_waiting_when_its_chat_is_read_is_dropped(outbox, make_user):
    from django.db import transaction

    from chat.services.messages import chat_mark_read, message_create

    alice, bob = make_user("Alice"), make_user("Bob")
    add_device(bob)
    chat, _ = chat_direct_get_or_create(user=alice, other=bob)
    with transaction.atomic():
        # Created and read before any loop ran: nobody needs to be told.
        message_create(sender=alice, chat_id=chat.pk, message_type=0, text="quick")
        chat_mark_read(user=bob, chat_id=chat.pk)
    rows = push_rows()
    assert [(r.kind, r.state) for r in rows] == [("message", "dropped")]


@pytest.mark.django_db
def test_a_read_with_nothing_to_clear_costs_one_query(make_user, django_assert_num_queries):
    """readMessage runs the read hook every time; with no push to drop or clear it asks once."""
    from django.db import transaction

    from notifications.services import chat_read

    alice, bob = make_user("Alice"), make_user("Bob")
    add_device(bob)
    chat, _ = chat_direct_get_or_create(user=alice, other=bob)
    with transaction.atomic(), django_assert_num_queries(3):  # the savepoint, the question, its release
        chat_read(user=bob, chat_id=chat.pk, last_read_message_id=None)
    assert push_rows() == []


def test_filebased_backend_appends_the_contract_line(tmp_path, settings):
    from notifications.backends.base import Outcome, OutgoingPush, get_backend

    settings.PUSH_FILE_PATH = str(tmp_path / "out" / "pushes.jsonl")
    backend = get_backend("notifications.backends.filebased.PushBackend")
    push = OutgoingPush(1, "tok", "android", "u1", "message", "Alice", "hi", {"chatHeaderId": "3"}, 1, 3)
    read = OutgoingPush(2, "tok", "android", "u1", "read", data={"type": "read"})
    assert [r.outcome for r in backend.send_messages([push, read])] == [Outcome.SENT] * 2
    lines = [json.loads(line) for line in (tmp_path / "out" / "pushes.jsonl").read_text().splitlines()]
    assert lines == [
        {"token": "tok", "userId": "u1", "title": "Alice", "body": "hi", "data": {"chatHeaderId": "3"}},
        {"token": "tok", "userId": "u1", "title": None, "body": None, "data": {"type": "read"}},
    ]


def test_console_backend_is_the_default_and_writes_lines(settings):
    import io

    from notifications.backends.base import OutgoingPush, get_backend
    from notifications.backends.console import PushBackend

    assert settings.PUSH_BACKEND == "notifications.backends.console.PushBackend"
    stream = io.StringIO()
    backend = get_backend(stream=stream)
    assert isinstance(backend, PushBackend)
    backend.send_messages([OutgoingPush(1, "tok", "web", "u1", "message", "Alice", "hi")])
    assert '"title": "Alice"' in stream.getvalue()
