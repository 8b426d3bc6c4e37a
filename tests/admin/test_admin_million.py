"""The admin at 1,000,000 messages on PostgreSQL: the message list's pages, filter and searches, and the
dashboard, each in a bounded number of queries, none of them a COUNT(*), within a (generous) time.

A database of its own (tests/conftest.py fresh_postgres_database), filled by one INSERT ... SELECT from
generate_series (about 15 s here), then ANALYZE; the pages are asked by Django's test client in a
process on that database, with CaptureQueriesContext. Runs in the main pass; skipped in the PostgreSQL
pass (it would do the same again), and with the reason where there is no PostgreSQL.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

from tests.conftest import fresh_postgres_database

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(300)]

REPO = Path(__file__).resolve().parents[2]
MESSAGES = 1_000_000
CHATS = 1000
USERS = 100
MAX_QUERIES = 6  # session, user, the page's rows (+ Django's savepoint-free extras)
MAX_SECONDS = 2.0  # per page; they take a few milliseconds on an idle machine

MEASURE = """
import json, time, uuid
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from chat.models import ChatHeader, ChatMessage, ChatType, User
from tests.bulk_messages import fill_messages

MESSAGES, CHATS, USERS = {messages}, {chats}, {users}
users = User.objects.bulk_create([User(id=uuid.uuid4(), name=f"user {{i}}") for i in range(USERS)])
chats = ChatHeader.objects.bulk_create(
    [ChatHeader(chat_type=ChatType.GROUP, name=f"group {{i}}") for i in range(CHATS)]
)

# Every column of the message table: ours from generate_series, any other (a column added later) its default.
started = time.monotonic()
with connection.cursor() as cursor:
    fill_messages(
        cursor,
        ours={{
            "chat_id": "c.ids[1 + g %% %(chats)s]",
            "sender_id": "u.ids[1 + g %% %(users)s]",
            "message_type": "0",
            "message": "'message number ' || g",
            "creation_time": "now() - (%(messages)s - g) * interval '4 seconds'",
            "is_deleted": "g %% 1000 = 0",
            "deletion_time": "CASE WHEN g %% 1000 = 0 THEN now() END",
        }},
        source="generate_series(1, %(messages)s) g, "
        "(SELECT array_agg(id ORDER BY id) ids FROM chat_chatheader) c, "
        "(SELECT array_agg(id ORDER BY id) ids FROM chat_user) u",
        params={{"chats": CHATS, "users": USERS, "messages": MESSAGES}},
    )
insert_seconds = time.monotonic() - started

moderator = User.objects.create_superuser(name="Mod", password="a-long-test-password")
client = Client()
client.force_login(moderator)
chat_id = chats[CHATS // 2].pk
newest = ChatMessage.objects.order_by("-id").values_list("id", flat=True)[0]
pages = {{
    "list": "/admin/chat/chatmessage/",
    "page 50": "/admin/chat/chatmessage/?p=50",
    "deleted": "/admin/chat/chatmessage/?deleted=yes",
    "not deleted": "/admin/chat/chatmessage/?deleted=no",
    "chat": f"/admin/chat/chatmessage/?q=chat:{{chat_id}}",
    "chat text": f"/admin/chat/chatmessage/?q=chat:{{chat_id}}+number+99",
    "sender": f"/admin/chat/chatmessage/?q={{users[7].pk}}",
    "id": f"/admin/chat/chatmessage/?q={{newest - 5}}",
    "change": f"/admin/chat/chatmessage/{{newest}}/change/",
    "dashboard": "/admin/dashboard/",
}}
results = {{}}
for name, url in pages.items():
    client.get(url)  # warm: the first request of a process loads templates
    cache.clear()  # the dashboard's daily counts are cached for a minute: measure them made
    with CaptureQueriesContext(connection) as ctx:
        started = time.monotonic()
        response = client.get(url)
        seconds = time.monotonic() - started
    results[name] = {{
        "status": response.status_code,
        "seconds": seconds,
        "queries": [q["sql"] for q in ctx.captured_queries],
        "rows": response.content.decode().count('name="_selected_action"'),
        "plans": [
            "\\n".join(row[0] for row in connection.cursor().execute("EXPLAIN " + q["sql"]).fetchall())
            for q in ctx.captured_queries
            if 'FROM "chat_chatmessage"' in q["sql"]
        ],
    }}
summary = {{"insert_seconds": insert_seconds, "count": ChatMessage.objects.count(), "pages": results}}
print("RESULT " + json.dumps(summary))
"""


@pytest.fixture(scope="module")
def measured():
    if connection.vendor == "postgresql":
        pytest.skip("ran in the main pass, on a PostgreSQL database of its own")
    with fresh_postgres_database("chat_admin_million", DB_STATEMENT_TIMEOUT_MS="0") as env:
        script = MEASURE.format(messages=MESSAGES, chats=CHATS, users=USERS)
        result = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", script],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=280,
        )
        assert result.returncode == 0, result.stderr[-4000:]
        line = next(line for line in result.stdout.splitlines() if line.startswith("RESULT "))
        summary = json.loads(line.removeprefix("RESULT "))
        timings = ", ".join(f"{name} {page['seconds'] * 1000:.0f} ms" for name, page in summary["pages"].items())
        print(f"\n1,000,000 messages inserted in {summary['insert_seconds']:.1f} s; pages: {timings}")
        yield summary


PAGES = ["list", "page 50", "deleted", "not deleted", "chat", "chat text", "sender", "id", "change"]


def test_a_million_messages_were_made(measured):
    assert measured["count"] == MESSAGES


@pytest.mark.parametrize("page", PAGES)
def test_message_pages_are_bounded(measured, page):
    result = measured["pages"][page]
    assert result["status"] == 200
    queries = result["queries"]
    assert len(queries) <= MAX_QUERIES, "\n".join(queries)
    assert not [q for q in queries if "COUNT(" in q.upper()], "\n".join(queries)
    assert result["seconds"] < MAX_SECONDS, (result["seconds"], queries)
    # Filters and searches use an index: no query reads the whole message table.
    assert result["plans"], queries
    for plan in result["plans"]:
        assert "Seq Scan on chat_chatmessage" not in plan, plan


def test_the_pages_show_what_they_should(measured):
    pages = measured["pages"]
    assert pages["list"]["rows"] == pages["page 50"]["rows"] == 100
    assert pages["deleted"]["rows"] == 100  # 1,000 deleted messages: a full first page
    assert pages["chat"]["rows"] == 100
    assert pages["id"]["rows"] == 1


def test_the_dashboard_at_a_million(measured):
    result = measured["pages"]["dashboard"]
    assert result["status"] == 200
    assert len(result["queries"]) <= MAX_QUERIES + 2, "\n".join(result["queries"])
    assert result["seconds"] < 5 * MAX_SECONDS, result["seconds"]
