"""Shared fixtures: users and tokens made through the real code, a live uvicorn server, socket clients."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import threading
import time
import uuid
from collections import defaultdict

import pytest
import socketio
import uvicorn
from asgiref.sync import sync_to_async

from chat.tokens import issue_token
from tests.processes import free_port, port_open, start_and_wait, start_postgres

# --- running ORM code from async tests ------------------------------------------------------------

_worker = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="test-orm")


def run_sync(fn, *args, **kwargs):
    """Call ORM code from a test, async or not.

    Inside an async test the call runs in a worker thread (the ORM refuses the event loop's thread);
    the test's database is transactional there, so the server and the test see the same rows.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return fn(*args, **kwargs)
    return _worker.submit(fn, *args, **kwargs).result()


# --- users and tokens ----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _no_rate_limit(settings):
    """Tests send freely; the rate-limit tests turn a limit back on with the `settings` fixture."""
    from chat.state.ratelimit import BUDGETS

    for budget in BUDGETS.values():
        setattr(settings, budget.setting, "0")


@pytest.fixture
def make_user(db):
    """Create a user the way production does: from a token's claims."""
    from chat.tokens import TokenClaims, user_for_claims

    def factory(name: str = "User", **claims):
        uid = claims.pop("id", None) or uuid.uuid4()
        claims = TokenClaims(user_id=uid, name=name, picture=claims.get("picture"), expires_at=0)
        return run_sync(user_for_claims, claims)

    return factory


@pytest.fixture
def token_for():
    def factory(user, **kwargs) -> str:
        return issue_token(user.pk, **kwargs)

    return factory


# --- the test database on PostgreSQL (make test-postgres) -----------------------------------------


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix):
    """One PostgreSQL test database per test process (as settings.py does for SQLite files), so that
    concurrent runs on one server never drop each other's `test_<name>`.

    Test sessions also commit without waiting for the WAL flush: the flush between transactional tests
    (a TRUNCATE of every table) then takes ~45 ms instead of ~360 ms here. Only crash durability changes,
    nothing a test can observe."""
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.postgresql":
        return
    if not db.setdefault("TEST", {}).get("NAME"):
        db["TEST"]["NAME"] = f"test_{db['NAME']}_{os.getpid()}"
    options = db.setdefault("OPTIONS", {})
    options["options"] = f"{options.get('options', '')} -c synchronous_commit=off".strip()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """pytest-django's test database; on PostgreSQL its teardown first ends the sessions that other
    threads (the live server's ORM thread, `run_sync`'s worker) still hold, because PostgreSQL refuses
    to drop a database that is in use and would leave it behind."""
    yield
    from django.db import connection

    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


# --- live server ---------------------------------------------------------------------------------


class LiveServer:
    """uvicorn serving `chat_project.asgi:application` in a thread of the test process.

    In-process so that tests share its settings, presence store and database.
    """

    def __init__(self) -> None:
        from chat_project.asgi import application

        self.port = free_port()
        config = uvicorn.Config(
            application,
            host="127.0.0.1",
            port=self.port,
            lifespan="on",
            log_level="warning",
            ws_per_message_deflate=False,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="live-uvicorn", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("live server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="session")
def live_server_session(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        server = LiveServer()
        server.start()
        yield server
        server.stop()


@pytest.fixture
def chat_server(live_server_session, transactional_db):
    """A running server and a database its threads can see (committed, flushed after the test)."""
    from asgiref.sync import async_to_sync

    from chat.state.store import get_state

    async_to_sync(get_state().reset)()
    yield live_server_session
    async_to_sync(get_state().reset)()


# --- socket clients ------------------------------------------------------------------------------


# An event name no server handler has: the server answers it with an `exception` emit (CONTRACT §4).
BARRIER_EVENT = "test:barrier"


class Client:
    """A python-socketio AsyncClient that records every server event it receives.

    Waiting is event-driven, in one place: `until` wakes on every event (and on the disconnect) and
    rechecks its condition; `wait_for`, `received` and `barrier` are built on it. "Nothing arrived"
    is asserted after `barrier()`, never after a sleep.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.sio = socketio.AsyncClient(reconnection=False)
        self.events: dict[str, list] = defaultdict(list)
        self.closed = False  # the connection ended (either side)
        self._consumed: dict[str, int] = defaultdict(int)  # how many of each event wait_for has returned
        self._changed = asyncio.Event()
        self._barriers = 0
        self._barriers_answered: set[str] = set()

        @self.sio.on("*")
        async def catch_all(event, *args):
            value = args[0] if len(args) == 1 else list(args)
            if event == "exception" and isinstance(value, dict) and str(value.get("event")).startswith(BARRIER_EVENT):
                self._barriers_answered.add(value["event"])
            else:
                self.events[event].append(value)
            self.changed()

        @self.sio.event
        async def disconnect(*reason):
            self.closed = True
            self.changed()

    def changed(self) -> None:
        """Wake the waiters (a listener of the test's own calls it after recording what it got)."""
        self._changed.set()

    async def connect(
        self, *, user_id=None, token=None, auth=None, query=None, transports=("websocket",), headers=None
    ):
        params = dict(query or {})
        if user_id is not None:
            params["userId"] = str(user_id)
        qs = "&".join(f"{k}={v}" for k, v in params.items())
        if auth is None and token is not None:
            auth = {"accessToken": token}
        await self.sio.connect(
            f"{self.url}?{qs}" if qs else self.url,
            auth=auth,
            transports=list(transports),
            headers=headers or {},
            wait_timeout=5,
        )
        return self

    async def call(self, event: str, payload=None, timeout: float = 5):
        """Emit with an acknowledgement and return the ack."""
        if payload is None:
            return await self.sio.call(event, timeout=timeout)
        return await self.sio.call(event, payload, timeout=timeout)

    async def until(self, condition, *, timeout: float = 3, what: str = "the condition"):
        """`condition()`'s value once it is truthy, rechecked whenever an event arrives; no polling.

        Fails when the time is up, or when the socket has disconnected and the condition still does
        not hold (nothing more can arrive).
        """

        async def wait():
            while True:
                value = condition()
                if value:
                    return value
                if self.closed:
                    raise AssertionError(f"the socket disconnected while waiting for {what}; got {dict(self.events)!r}")
                self._changed.clear()
                await self._changed.wait()

        try:
            return await asyncio.wait_for(wait(), timeout)
        except TimeoutError:
            raise AssertionError(f"no {what} within {timeout} s; got {dict(self.events)!r}") from None

    async def wait_for(self, event: str, timeout: float = 3):
        """The oldest `event` not yet returned by wait_for, waiting for it if it has not arrived.

        Events that arrive before the call are not missed (an ack and a broadcast race each other).
        """
        await self.until(lambda: len(self.events[event]) > self._consumed[event], timeout=timeout, what=repr(event))
        value = self.events[event][self._consumed[event]]
        self._consumed[event] += 1
        return value

    async def received(self, event: str, count: int = 1, timeout: float = 5) -> list:
        """Every `event` received so far, once there are at least `count` of them.

        Unlike `wait_for`, an event that arrived before the call counts, and nothing is consumed (a
        server event emitted with an ack often overtakes the ack).
        """
        await self.until(lambda: len(self.events[event]) >= count, timeout=timeout, what=f"{count} {event!r}")
        return self.events[event]

    async def barrier(self, timeout: float = 3) -> None:
        """Return once every server event already on its way to this socket has arrived.

        Sends an event no handler has; the server answers it with an `exception` emit to this socket
        (CONTRACT §4), and the packets of one socket arrive in the order the server sent them. So once
        that answer is here, so is every event the server emitted to this socket before: call it after
        the action whose events you rule out was answered (its ack, or a later event it caused), then
        assert that they did not arrive. Its answers are not recorded in `events`.
        """
        self._barriers += 1
        name = f"{BARRIER_EVENT}:{self._barriers}"
        await self.sio.emit(name, {})
        await self.until(lambda: name in self._barriers_answered, timeout=timeout, what=f"the answer to {name}")

    def clear(self) -> None:
        """Forget every event received so far."""
        self.events.clear()
        self._consumed.clear()

    async def disconnect(self) -> None:
        with contextlib.suppress(Exception):
            await self.sio.disconnect()


async def barrier(*clients: Client) -> None:
    """`Client.barrier` for several sockets at once."""
    await asyncio.gather(*(client.barrier() for client in clients))


@pytest.fixture
async def clients(chat_server):
    """Factory: `await clients(user, token=...)` gives a connected, recording client."""
    made: list[Client] = []

    async def factory(user=None, *, token: str | None = "auto", **kwargs) -> Client:
        client = Client(chat_server.url)
        made.append(client)
        if token == "auto":
            token = issue_token(user.pk) if user is not None else None
        await client.connect(
            user_id=user.pk if user is not None else kwargs.pop("user_id", None), token=token, **kwargs
        )
        return client

    yield factory
    for client in made:
        await client.disconnect()
    await asyncio.sleep(0.05)


db_call = sync_to_async  # readability in async tests: `await db_call(fn)(...)`


# --- one pass is enough ---------------------------------------------------------------------------


def pytest_collection_modifyitems(config, items):
    """`make test` runs the suite on SQLite and again on PostgreSQL. A test marked `own_sqlite` starts
    servers on a SQLite database of its own whichever database the pass uses, so the PostgreSQL pass
    would run exactly the same thing again: it skips them, with the reason."""
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        return
    skip = pytest.mark.skip(reason="its servers use a SQLite database of their own: run in the SQLite pass")
    for item in items:
        if item.get_closest_marker("own_sqlite"):
            item.add_marker(skip)


# --- real services: PostgreSQL and Redis -----------------------------------------------------------

REDIS_TEST_URL = os.environ.get("CHAT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def ensure_redis() -> str:
    """The URL of a running Redis (started if it can be), else the test is skipped with the reason."""
    if not port_open("127.0.0.1", 6379) and not start_and_wait(
        [
            "redis-server",
            "--daemonize",
            "yes",
            "--bind",
            "127.0.0.1",
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
        ],
        "127.0.0.1",
        6379,
    ):
        pytest.skip("Redis is not reachable on 127.0.0.1:6379 and could not be started")
    return REDIS_TEST_URL


def ensure_postgres() -> None:
    """A running PostgreSQL on 127.0.0.1:5432 (started if it can be), else the test is skipped."""
    if not start_postgres():
        pytest.skip("PostgreSQL is not reachable on 127.0.0.1:5432 and could not be started")


@pytest.fixture
def redis_url() -> str:
    """A real Redis database for the test, emptied before and after."""
    import redis

    url = ensure_redis()
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


PG_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REPO_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@contextlib.contextmanager
def fresh_postgres_database(prefix: str, **env_overrides: str):
    """A new, migrated PostgreSQL database for server or worker processes a test starts; dropped after.

    Yields the environment those processes need (the test process's, less pytest's, plus
    `DATABASE_URL` and `env_overrides`). Skips the test, with the reason, without PostgreSQL.
    """
    import subprocess
    import sys

    import psycopg

    ensure_postgres()
    db_name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL on 127.0.0.1:5432 does not accept postgres@postgres: {exc}")
    admin.execute(f'CREATE DATABASE "{db_name}"')
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(
        DJANGO_SETTINGS_MODULE="chat_project.settings",
        DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{db_name}",
        LOG_LEVEL="WARNING",
        **env_overrides,
    )
    try:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput"],
            cwd=REPO_DIR,
            env=env,
            check=True,
            capture_output=True,
        )
        yield env
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        admin.close()
