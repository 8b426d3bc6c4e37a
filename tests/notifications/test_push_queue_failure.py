"""Queueing a batch's pushes inside its transaction (notifications.services.messages_created): a
failure to write them never undoes the messages, and a batch that queues none pays no savepoint.

Run on SQLite and, by `make test-postgres`, on PostgreSQL (where a failed statement outside a savepoint
would have aborted the whole transaction)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat.models import ChatMessage
from chat.services.chats import chat_direct_get_or_create
from chat.services.messages import NewMessage, message_create_many
from notifications.models import Push
from tests.notifications.conftest import add_device

pytestmark = pytest.mark.django_db(transaction=True)


def text(sender, chat_id: int, body: str) -> NewMessage:
    return NewMessage(sender=sender, chat_id=chat_id, message_type=0, text=body)


def test_a_failing_push_insert_keeps_the_messages(make_user, monkeypatch):
    alice, bob = make_user("Alice"), make_user("Bob")
    add_device(bob)
    chat, _ = chat_direct_get_or_create(user=alice, other=bob)

    def failing_insert(pushes, **kwargs):
        with connection.cursor() as cursor:  # a real database error, inside the pushes' savepoint
            cursor.execute("INSERT INTO no_such_table_for_pushes VALUES (1)")

    monkeypatch.setattr(Push.objects, "bulk_create", failing_insert)
    ((message, created),) = message_create_many([text(alice, chat.pk, "kept")])
    assert created
    assert ChatMessage.objects.get(pk=message.pk).message == "kept"
    assert not Push.objects.exists()


def test_a_batch_without_pushes_runs_no_savepoint(make_user):
    alice, bob = make_user("Alice"), make_user("Bob")  # no devices: nothing to push
    chat, _ = chat_direct_get_or_create(user=alice, other=bob)
    with CaptureQueriesContext(connection) as queries:
        results = message_create_many([text(alice, chat.pk, f"m{i}") for i in range(3)])
    assert all(created for _, created in results)
    assert not [q["sql"] for q in queries.captured_queries if "SAVEPOINT" in q["sql"].upper()]


def test_a_batch_with_pushes_queues_them(make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    add_device(bob)
    chat, _ = chat_direct_get_or_create(user=alice, other=bob)
    message_create_many([text(alice, chat.pk, "one"), text(alice, chat.pk, "two")])
    assert Push.objects.count() == 2
