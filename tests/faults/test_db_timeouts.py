"""The database bounds of issue 14 reach the connections (PostgreSQL): libpq's connect timeout and TCP
keepalives from settings.DATABASES' OPTIONS, and the statement timeout, which differs by process: the
serving process bounds one call by DB_SERVER_TIMEOUT_MS (default CHAT_EVENT_TIMEOUT_SECONDS, so a stuck
call frees the ORM's one thread about when its event has answered), while manage.py commands keep the
long DB_STATEMENT_TIMEOUT_MS (30 s) for migrations and imports."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time

import psycopg
import pytest

from tests.faults.conftest import User, text_message
from tests.faults.harness import REPO, start_server

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]

SERVER_TIMEOUT_MS = 1000  # well under the event deadline, so that the test tells the two apart
EVENT_TIMEOUT = 4.0

# PostgreSQL's SHOW tcp_keepalives_* is the server's side of the socket; libpq's keepalives are set on
# the client's, so they are read back from the client socket itself.
PROBE = """
import json, socket
from django.db import connection
with connection.cursor() as cursor:
    cursor.execute("SHOW statement_timeout")
    shown = {"statement_timeout": cursor.fetchone()[0]}
    sock = socket.socket(fileno=__import__("os").dup(connection.connection.pgconn.socket))
    shown["SO_KEEPALIVE"] = sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
    shown["TCP_KEEPIDLE"] = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE)
    shown["TCP_KEEPINTVL"] = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL)
    shown["TCP_KEEPCNT"] = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT)
    shown["TCP_USER_TIMEOUT"] = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT)
    sock.close()
    try:
        cursor.execute("SELECT pg_sleep(1.5)")
        shown["pg_sleep"] = "finished"
    except Exception as exc:
        shown["pg_sleep"] = type(exc).__name__
params = connection.connection.info.get_parameters()
print("PROBE " + json.dumps({"shown": shown, "params": params}))
"""


def test_a_management_command_gets_the_keepalives_and_the_long_statement_timeout(pg_env):
    env = {**pg_env, "DB_KEEPALIVES_IDLE": "17", "DB_KEEPALIVES_INTERVAL": "4", "DB_CONNECT_TIMEOUT": "2"}
    env["DB_SERVER_TIMEOUT_MS"] = str(SERVER_TIMEOUT_MS)  # the server's; a command ignores it
    out = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", PROBE], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=60, check=True,
    ).stdout  # fmt: skip
    probe = json.loads(out.split("PROBE ", 1)[1])
    assert probe["shown"] == {
        "statement_timeout": "30s",
        "SO_KEEPALIVE": 1,
        "TCP_KEEPIDLE": 17,
        "TCP_KEEPINTVL": 4,
        "TCP_KEEPCNT": 3,
        "TCP_USER_TIMEOUT": 30000,
        "pg_sleep": "finished",
    }
    params = probe["params"]
    assert (params["connect_timeout"], params["keepalives"], params["tcp_user_timeout"]) == ("2", "1", "30000")


@pytest.fixture(scope="module")
def server(pg_env, work_dir):
    env = {**pg_env, "DB_SERVER_TIMEOUT_MS": str(SERVER_TIMEOUT_MS), "CHAT_EVENT_TIMEOUT_SECONDS": str(EVENT_TIMEOUT)}
    process = start_server(env, work_dir / "server-db-timeouts.log")
    yield process
    process.stop()


def _hold_lock(url: str, table: str, seconds: float, locked: threading.Event) -> None:
    with psycopg.connect(url.replace("postgres://", "postgresql://"), connect_timeout=5) as conn:
        conn.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
        locked.set()
        time.sleep(seconds)
        conn.rollback()


async def test_a_stuck_call_is_cancelled_at_the_server_bound_and_frees_the_orm_thread(server, pg_env, connect):
    alice, bob = User("Alice"), User("Bob")
    a = await connect(server.url, alice)
    chat_id = (await a.call("joinRoom", {"otherUserId": bob.id}))["chatHeaderId"]
    assert "chatMessage" in await a.call("createMessage", text_message(chat_id, "before"))

    # Another session holds the messages table (a long migration, a stuck transaction): a read of it
    # waits for the lock. The server's statement_timeout cancels the wait after 1 s, well before the
    # event's 4 s deadline, and the ORM thread is free for the next event.
    locked = threading.Event()
    holder = threading.Thread(target=_hold_lock, args=(pg_env["DATABASE_URL"], "chat_chatmessage", 6, locked))
    holder.start()
    try:
        assert await asyncio.to_thread(locked.wait, 10)
        for _ in range(2):
            started = time.monotonic()
            ack = await a.call("findAllMessages", {"chatHeaderId": chat_id}, timeout=20)
            elapsed = time.monotonic() - started
            assert ack.get("code") == "server_error", ack
            assert SERVER_TIMEOUT_MS / 1000 - 0.2 < elapsed < EVENT_TIMEOUT - 1, f"answered after {elapsed:.2f} s"
        # (Without the bound the first answers at the deadline, the second waits behind the stuck call.)
    finally:
        await asyncio.to_thread(holder.join)
    assert [m["message"] for m in (await a.call("findAllMessages", {"chatHeaderId": chat_id}))["items"]] == ["before"]


def test_a_connection_opened_while_serving_has_the_short_statement_timeout(pg_env, settings, django_db_blocker):
    """What lifecycle.startup() connects: each new connection gets DB_SERVER_TIMEOUT_MS, and a longer
    pg_sleep is cancelled; once shut down (the hook disconnected), a new connection keeps the long one."""
    import dj_database_url
    from django.db.backends.signals import connection_created
    from django.db.utils import ConnectionHandler, OperationalError

    from chat_project import lifecycle

    settings.DB_SERVER_TIMEOUT_MS = SERVER_TIMEOUT_MS
    config = dj_database_url.parse(pg_env["DATABASE_URL"])
    config["OPTIONS"] = {"options": "-c statement_timeout=30000"}  # what settings.py gives manage.py
    handler = ConnectionHandler({"default": config})  # its own, not the test process's

    def statement_timeout() -> str:
        with handler["default"].cursor() as cursor:
            cursor.execute("SHOW statement_timeout")
            return cursor.fetchone()[0]

    # pytest-django guards every connection wrapper; this one is the test's own, to a database of its own.
    with django_db_blocker.unblock():
        connection_created.connect(lifecycle.bound_server_connection, dispatch_uid=lifecycle._BOUND)
        try:
            assert statement_timeout() == "1s"
            with pytest.raises(OperationalError, match="statement timeout"), handler["default"].cursor() as cursor:
                cursor.execute("SELECT pg_sleep(1.5)")
        finally:
            connection_created.disconnect(dispatch_uid=lifecycle._BOUND)
            handler.close_all()
        try:
            assert statement_timeout() == "30s"
        finally:
            handler.close_all()
