"""The process's one Redis client (one `redis.asyncio` connection pool), shared by presence, viewing and
rate limits. python-socketio's `AsyncRedisManager` keeps a pool of its own for the pub/sub channel.

`redis.asyncio` connections belong to the event loop that opened them. A server process has one loop:
`open()`, called at start-up (chat_project/lifecycle.py, through `chat.state.open_state`), makes the
client there, and every call on that loop shares its pool. A call from any other loop (a management
command's `asyncio.run`, `async_to_sync` outside a server, a test) gets a client for that call only,
closed after it, so that no connection outlives the loop it belongs to.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import redis.asyncio as aioredis

logger = logging.getLogger("chat.state")

# A Redis that stopped answering must not hold an event forever: rate limits then fail open, presence
# calls fail like any server error.
CONNECT_TIMEOUT = 2.0
COMMAND_TIMEOUT = 5.0


def redis_errors() -> tuple[type[BaseException], ...]:
    """What a Redis outage raises: redis-py's errors, and the socket's own when a timeout hits first."""
    import redis

    return (redis.RedisError, OSError, asyncio.TimeoutError)


class RedisConnector:
    """The pool, and whether Redis is `down`: a call that failed says so (`mark_down`), and until the
    state layer's watcher has seen Redis answer again and published this process's presence there again
    (chat.state.store), presence and rate limits work from this process's own memory (README, "Failure
    modes") instead of waiting on a Redis that is not there."""

    def __init__(self, url: str, *, max_connections: int | None = None) -> None:
        from django.conf import settings

        self.url = url
        self.max_connections = max_connections or settings.REDIS_MAX_CONNECTIONS
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: aioredis.Redis | None = None
        self.down = False

    def mark_down(self, exc: BaseException) -> None:
        if not self.down:
            what = f"{exc.__class__.__name__}: {exc}"
            logger.warning(
                "Redis unavailable (%s): presence and rate limits are this process's own until it is back", what
            )
        self.down = True

    def _new_client(self) -> aioredis.Redis:
        # A blocking pool: when every connection is busy (a thousand sockets disconnecting at once), a
        # call waits its turn instead of failing with "Too many connections" and leaving presence behind.
        pool = aioredis.BlockingConnectionPool.from_url(
            self.url,
            max_connections=self.max_connections,
            timeout=COMMAND_TIMEOUT,
            decode_responses=True,
            socket_connect_timeout=CONNECT_TIMEOUT,
            socket_timeout=COMMAND_TIMEOUT,
        )
        return aioredis.Redis.from_pool(pool)  # the client owns the pool: aclose() closes it

    async def open(self) -> None:
        """Make the shared client on the running loop (the server's)."""
        if self._client is None:
            self._loop = asyncio.get_running_loop()
            self._client = self._new_client()

    async def close(self) -> None:
        client, self._client, self._loop = self._client, None, None
        if client is not None:
            await client.aclose()

    def shared_client(self) -> aioredis.Redis | None:
        """The pooled client when called on its loop, else None."""
        if self._client is not None and self._loop is asyncio.get_running_loop() and not self._loop.is_closed():
            return self._client
        return None

    @contextlib.asynccontextmanager
    async def client(self) -> AsyncIterator[aioredis.Redis]:
        shared = self.shared_client()
        if shared is not None:
            yield shared
            return
        own = self._new_client()
        try:
            yield own
        finally:
            await own.aclose()

    async def ping(self) -> bool:
        async with self.client() as client:
            return bool(await client.ping())
