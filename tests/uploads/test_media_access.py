"""Who may send a media path, and how long `/uploads/` serves it (CONTRACT §11).

createMessage takes the sender's own upload, or a path that a visible message of the sender's chats
already carries (forwarding). A file that has been sent is served while a visible message carries it;
once all of them are deleted it is 404. A fresh upload is served until it is sent. Media is
`Cache-Control: private`, and each GET costs one indexed query."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection, transaction

from chat.errors import Invalid
from chat.models import ChatMessage
from chat.services import messages as message_services
from chat.services.chats import chat_direct_get_or_create
from chat.services.groups import group_member_remove
from chat.services.moderation import messages_moderate_restore, messages_purge_deleted
from tests.conftest import run_sync
from tests.sockets._message_helpers import group_chat, join, stored
from tests.uploads import files
from tests.uploads.helpers import uploaded
from uploads.models import Upload
from uploads.selectors import upload_for_serving

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(make_user):
    alice, bob, carol, dave = (make_user(n) for n in ("Alice", "Bob", "Carol", "Dave"))
    ab, _ = chat_direct_get_or_create(user=alice, other=bob)
    bc, _ = chat_direct_get_or_create(user=bob, other=carol)
    cd, _ = chat_direct_get_or_create(user=carol, other=dave)
    return alice, bob, carol, dave, ab, bc, cd


def send(sender, chat, path: str, message_type: int = 2) -> ChatMessage:
    message, _ = message_services.message_create(sender=sender, chat_id=chat.pk, message_type=message_type, text=path)
    return message


def remove(sender, message) -> None:
    message_services.message_remove(user=sender, chat_id=message.chat_id, message_ids=[message.pk])


def status(api, path: str) -> int:
    return api().get(path).status_code


# --- who may send a path -------------------------------------------------------------------------


def test_the_uploader_sends_their_own_upload(api, people):
    alice, _bob, _carol, _dave, ab, *_ = people
    path = uploaded(api(alice), files.png(), "a.png", 2)
    assert send(alice, ab, path).message == path


def test_another_users_upload_that_no_message_carries_is_invalid(api, people):
    alice, bob, _carol, _dave, ab, *_ = people
    path = uploaded(api(alice), files.png(), "a.png", 2)  # uploaded, never sent
    with pytest.raises(Invalid) as refused:
        send(bob, ab, path)
    assert "POST /api/chat/uploadFile" in refused.value.message and "messageType 0" in refused.value.message
    assert not ChatMessage.objects.exists()
    assert Upload.objects.get(path=path).sent_time is None


def test_a_path_carried_by_a_visible_message_of_ones_chats_can_be_forwarded(api, people):
    alice, bob, carol, dave, ab, bc, cd = people
    path = uploaded(api(alice), files.png(), "a.png", 2)
    send(alice, ab, path)
    forwarded = send(bob, bc, path)  # Bob saw it in his chat with Alice
    assert forwarded.message == path
    assert send(carol, cd, path).message == path  # and Carol in hers with Bob
    # Dave forwards from his chat with Carol; a stranger to every chat carrying it may not.
    send(dave, cd, path)
    assert ChatMessage.objects.filter(message=path, is_deleted=False).count() == 4


def test_a_stranger_to_every_chat_carrying_it_cannot_forward_it(api, people, make_user):
    alice, _bob, _carol, _dave, ab, *_ = people
    path = uploaded(api(alice), files.png(), "a.png", 2)
    send(alice, ab, path)
    eve = make_user("Eve")
    eve_chat, _ = chat_direct_get_or_create(user=eve, other=alice)  # knows Alice, not the chat
    with pytest.raises(Invalid):
        send(eve, eve_chat, path)


def test_forwarding_needs_the_same_type(api, people):
    alice, bob, _carol, _dave, ab, bc, _cd = people
    path = uploaded(api(alice), files.wav(), "a.wav", 1)
    send(alice, ab, path, message_type=1)
    with pytest.raises(Invalid):
        send(bob, bc, path, message_type=4)


def test_a_path_whose_messages_are_all_deleted_cannot_be_forwarded(api, people):
    alice, bob, _carol, _dave, ab, bc, _cd = people
    path = uploaded(api(alice), files.png(), "a.png", 2)
    remove(alice, send(alice, ab, path))
    with pytest.raises(Invalid):
        send(bob, bc, path)
    assert send(alice, ab, path).message == path  # her own upload she may send again


def test_a_member_who_left_a_group_cannot_forward_from_it(api, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    group = group_chat(alice, bob)
    path = uploaded(api(alice), files.png(), "a.png", 2)
    message_services.message_create(sender=alice, chat_id=group, message_type=2, text=path)
    elsewhere, _ = chat_direct_get_or_create(user=bob, other=make_user("Carol"))
    first = send(bob, elsewhere, path)  # a member: fine
    group_member_remove(actor=bob, chat_id=group, user_id=bob.pk)
    # Bob's own forward is still visible in `elsewhere`, so he may forward again from there.
    second = send(bob, elsewhere, path)
    remove(bob, first)
    remove(bob, second)
    with pytest.raises(Invalid):
        send(bob, elsewhere, path)


def test_a_rolled_back_message_leaves_the_upload_unsent(api, people):
    alice, _bob, _carol, _dave, ab, *_ = people
    path = uploaded(api(alice), files.png(), "a.png", 2)
    with pytest.raises(RuntimeError), transaction.atomic():
        send(alice, ab, path)
        assert Upload.objects.get(path=path).sent_time is not None
        raise RuntimeError
    assert Upload.objects.get(path=path).sent_time is None
    assert status(api, path) == 200


# --- how long a path is served -------------------------------------------------------------------


def test_a_fresh_upload_is_served_until_sent_then_while_a_visible_message_carries_it(api, people):
    alice, bob, _carol, _dave, ab, bc, _cd = people
    path = uploaded(api(alice), files.png(), "a.png", 2)
    assert status(api, path) == 200  # not sent yet: the uploader can look at it
    first = send(alice, ab, path)
    forward = send(bob, bc, path)
    assert status(api, path) == 200
    remove(alice, first)
    assert status(api, path) == 200  # Bob's forward still shows it
    remove(bob, forward)
    assert status(api, path) == 404
    assert api().head(path).status_code == 404
    assert api().get(path, HTTP_RANGE="bytes=0-9").status_code == 404


def test_a_restored_message_brings_its_file_back_and_a_purge_does_not(api, people):
    alice, _bob, _carol, _dave, ab, *_ = people
    path = uploaded(api(alice), files.png(), "a.png", 2)
    message = send(alice, ab, path)
    remove(alice, message)
    assert status(api, path) == 404
    messages_moderate_restore(message_ids=[message.pk])
    assert status(api, path) == 200
    remove(alice, message)
    messages_purge_deleted(older_than=timedelta(0))
    assert not ChatMessage.objects.exists()
    assert status(api, path) == 404  # sent once: never served again without a visible message


def test_media_is_cache_control_private(api, people):
    alice, *_ = people
    path = uploaded(api(alice), b"report", "r.txt", 3)
    assert api().get(path)["Cache-Control"] == "private"
    assert api().head(path)["Cache-Control"] == "private"


def test_the_migration_marks_uploads_that_messages_carry_as_sent(api, people):
    """Uploads of messages stored before sent_time existed: their deleted messages' files go too."""
    from importlib import import_module

    from django.apps import apps

    alice, _bob, _carol, _dave, ab, *_ = people
    path = uploaded(api(alice), files.png(), "a.png", 2)
    fresh = uploaded(api(alice), files.png(), "b.png", 2)
    # A row as it was before the migration: sending through the service would already mark it sent.
    ChatMessage.objects.create(chat=ab, sender=alice, message_type=2, message=path, is_deleted=True)
    migration = import_module("uploads.migrations.0002_upload_sent_time")
    migration.mark_sent(apps, None)
    assert Upload.objects.get(path=path).sent_time is not None
    assert Upload.objects.get(path=fresh).sent_time is None
    assert status(api, path) == 404 and status(api, fresh) == 200


def test_serving_costs_one_query(api, people, django_assert_num_queries):
    alice, _bob, _carol, _dave, ab, *_ = people
    path = uploaded(api(alice), files.png(), "a.png", 2)
    send(alice, ab, path)
    for _ in range(3):
        send(alice, ab, uploaded(api(alice), files.png(), "c.png", 2))
    client = api()
    with django_assert_num_queries(1):
        assert client.get(path).status_code == 200
    remove(alice, ChatMessage.objects.get(message=path))
    with django_assert_num_queries(1):
        assert client.get(path).status_code == 404


def test_the_serving_query_uses_the_indexes(api, people):
    """No scan of the messages table per GET: the upload by its unique path, its messages through the
    partial index on media paths."""
    alice, _bob, _carol, _dave, ab, *_ = people
    path = uploaded(api(alice), files.png(), "a.png", 2)
    send(alice, ab, path)
    for n in range(30):
        message_services.message_create(sender=alice, chat_id=ab.pk, message_type=0, text=f"text {n}")
    storage_name = path.removeprefix("/uploads/")
    sql, params = _serving_sql(storage_name)
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            plan = " | ".join(str(row[-1]) for row in cursor.fetchall())
            assert "SCAN chat_chatmessage" not in plan, plan
            assert "chatmessage_media_path_idx" in plan, plan
        elif connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql, params)
            plan = " | ".join(row[0] for row in cursor.fetchall())
            assert "Seq Scan on chat_chatmessage" not in plan, plan
            assert "chatmessage_media_path_idx" in plan, plan
    assert upload_for_serving(storage_name=storage_name) is not None


def _serving_sql(storage_name: str):
    """The SQL of upload_for_serving, captured as it runs."""
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as captured:
        upload_for_serving(storage_name=storage_name)
    (query,) = captured.captured_queries
    return query["sql"], ()


# --- through a real server and client ------------------------------------------------------------


async def test_create_message_refuses_another_users_upload_over_a_socket(api, clients, make_user):
    alice, bob, carol = make_user("Alice"), make_user("Bob"), make_user("Carol")
    path = run_sync(uploaded, api(alice), files.png(), "a.png", 2)
    ab, _ = run_sync(chat_direct_get_or_create, user=alice, other=bob)
    bc, _ = run_sync(chat_direct_get_or_create, user=bob, other=carol)
    a, b = await clients(alice), await clients(bob)
    await join(b, bc.pk)

    refused = await b.call("createMessage", {"chatHeaderId": bc.pk, "message": path, "messageType": 2})
    assert refused["code"] == "invalid" and "uploadFile" in refused["error"]
    assert stored(bc.pk) == []

    sent = await a.call("createMessage", {"chatHeaderId": ab.pk, "message": path, "messageType": 2})
    assert sent["chatMessage"]["message"] == path
    forwarded = await b.call("createMessage", {"chatHeaderId": bc.pk, "message": path, "messageType": 2})
    assert forwarded["chatMessage"]["message"] == path
    assert (await b.wait_for("message"))["chatMessage"]["id"] == forwarded["chatMessage"]["id"]
