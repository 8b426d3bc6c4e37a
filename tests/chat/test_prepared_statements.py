"""The write path's hand-written statements run as prepared statements on PostgreSQL (chat/sql.py),
with Django's error classes and query log still around them; DB_PREPARED_STATEMENTS=false turns it off.
PostgreSQL only (`make test-postgres`): SQLite has no such thing."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from chat.services.chats import chat_direct_get_or_create
from chat.services.messages import NewMessage, message_create_many
from chat.sql import hot_cursor

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="prepared statements are PostgreSQL's"),
]


def prepared() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def send_one(make_user) -> None:
    alice, bob = make_user("Alice"), make_user("Bob")
    chat, _ = chat_direct_get_or_create(user=alice, other=bob)
    ((message, created),) = message_create_many([NewMessage(sender=alice, chat_id=chat.pk, message_type=0, text="hi")])
    assert created and message.pk


def test_a_batch_runs_its_statements_prepared(make_user):
    send_one(make_user)
    statements = prepared()
    assert any('INSERT INTO "chat_chatmessage"' in s for s in statements), statements
    assert any("chat_changecounter" in s for s in statements), statements


def test_while_queries_are_logged_djangos_cursor_runs_them(make_user):
    connection.close()  # a fresh connection: nothing prepared on it yet
    with CaptureQueriesContext(connection) as queries:
        send_one(make_user)
    assert any('INSERT INTO "chat_chatmessage"' in q["sql"] for q in queries.captured_queries)
    assert not [s for s in prepared() if "chat_chatmessage" in s]


def test_errors_are_djangos(make_user):
    with pytest.raises(IntegrityError), transaction.atomic(), hot_cursor() as cursor:
        cursor.execute(
            'INSERT INTO "chat_changecounter" ("id", "head", "pruned_through") VALUES (%s, %s, %s)', [7, 0, 0]
        )
        cursor.execute(
            'INSERT INTO "chat_changecounter" ("id", "head", "pruned_through") VALUES (%s, %s, %s)', [7, 0, 0]
        )


def test_turned_off_nothing_is_prepared(make_user, settings):
    settings.DB_PREPARED_STATEMENTS = False
    connection.close()  # a fresh connection: nothing prepared on it yet
    send_one(make_user)
    assert not [s for s in prepared() if "chat_chatmessage" in s]


def test_each_keeps_one_generic_plan(make_user):
    """No prepared statement of the write path is planned again at each run (settings sets
    plan_cache_mode): PostgreSQL's own choice re-planned the send-access check every time."""
    connection.close()  # a fresh connection: nothing prepared on it yet
    for _ in range(8):  # past the five custom plans PostgreSQL tries before it would choose
        send_one(make_user)
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements")
        plans = cursor.fetchall()
    access = [row for row in plans if "chat_friendship" in row[0]]
    assert access and all(generic >= 8 for _, generic, _ in access), access
    assert plans and all(custom == 0 for _, _, custom in plans), plans
