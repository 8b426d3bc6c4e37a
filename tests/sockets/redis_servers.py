"""Server processes with Redis for the state-layer tests: a migrated SQLite file, a Redis channel of the
test's own, the Redis guard of tests/sockets/state_guard.py, and a TCP proxy that makes Redis slow."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import redis

from chat.state.redis_keys import delete_keys_with_prefix
from tests.processes import REPO, ServerProcess, free_port

GUARDED_APP = "tests.sockets.state_guard:application"


class SlowRedisProxy:
    """A TCP proxy in front of Redis that holds every reply for `delay` seconds (requests pass at once),
    in a thread and event loop of its own, so that it keeps working whatever the test's loop does.
    Replies keep their order on each connection."""

    def __init__(self, target: tuple[str, int] = ("127.0.0.1", 6379), delay: float = 0.2) -> None:
        self.target = target
        self.delay = delay
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="slow-redis-proxy", daemon=True)
        self._server: asyncio.Server | None = None

    def start(self) -> SlowRedisProxy:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the Redis proxy did not start")
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._pipe, "127.0.0.1", self.port))
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._server.close()
            for task in asyncio.all_tasks(self._loop):
                task.cancel()
            self._loop.run_until_complete(asyncio.sleep(0))
            self._loop.close()

    async def _pipe(self, client_reader, client_writer) -> None:
        redis_reader, redis_writer = await asyncio.open_connection(*self.target)
        replies: asyncio.Queue = asyncio.Queue()

        async def requests() -> None:
            while data := await client_reader.read(65536):
                redis_writer.write(data)
                await redis_writer.drain()
            redis_writer.close()

        async def read_replies() -> None:
            while data := await redis_reader.read(65536):
                await replies.put((self._loop.time() + self.delay, data))
            await replies.put((self._loop.time() + self.delay, b""))

        async def write_replies() -> None:
            while True:
                due, data = await replies.get()
                await asyncio.sleep(max(0.0, due - self._loop.time()))
                if not data:
                    break
                client_writer.write(data)
                await client_writer.drain()
            client_writer.close()

        with contextlib.suppress(OSError, asyncio.CancelledError):
            await asyncio.gather(requests(), read_replies(), write_replies())


@contextlib.contextmanager
def guarded_servers(tmp_path: Path, *, redis_url: str, server_redis_urls: list[str] | None = None, **settings: str):
    """Guarded server processes (one per URL of `server_redis_urls`: the real Redis at `redis_url` by
    default, or a proxy in front of it) on one migrated SQLite file and one Redis channel of their own.
    Yields (servers, guard log path, channel); the channel's keys are deleted after."""
    channel = f"chat-state-{uuid.uuid4().hex[:10]}"
    guard_log = tmp_path / "redis-guard.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(
        DJANGO_SETTINGS_MODULE="chat_project.settings",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        SOCKETIO_CHANNEL=channel,
        LOG_LEVEL="WARNING",
        PUSH_WORKER_IN_PROCESS="false",
        CHAT_STATE_GUARD_LOG=str(guard_log),
        **settings,
    )
    env.pop("REDIS_URL", None)
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=REPO, env=env, check=True,
                   capture_output=True)  # fmt: skip
    servers = [
        ServerProcess({**env, "REDIS_URL": url}, tmp_path / f"server{i}.log", app=GUARDED_APP)
        for i, url in enumerate(server_redis_urls or [redis_url])
    ]
    try:
        for server in servers:
            server.wait_healthy()
        yield servers, guard_log, channel
    finally:
        for server in servers:
            server.stop()
        client = redis.Redis.from_url(redis_url)
        delete_keys_with_prefix(client, channel)
        client.close()


def channel_keys(redis_url: str, channel: str) -> list[str]:
    """The keys the servers wrote under their channel (presence, rate limits)."""
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    try:
        return list(client.scan_iter(match=f"{channel}:*"))
    finally:
        client.close()
