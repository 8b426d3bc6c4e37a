"""The state layer outside the database: presence, viewing and rate limits behind one object.

`get_state()` is the process's one `State`: in memory without `REDIS_URL`, in Redis with it, where
presence and rate limits share one `redis.asyncio` connection pool (chat.state.redis_client). Every
method is a coroutine, awaited on the event loop by the transports (socket handlers, the upload guard,
REST views through `async_to_sync`, the bridge that emits after a commit), never from the ORM's thread
and never inside a database transaction (tests/sockets/test_state_outside_transactions.py proves it).

Start-up opens the state on the server's loop (its pool lives there) and shut-down closes it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from django.conf import settings

from chat.state.presence import MemoryPresence, RedisPresence
from chat.state.ratelimit import MemoryLimiter, RedisLimiter
from chat.state.redis_client import RedisConnector


@dataclass
class State:
    presence: MemoryPresence | RedisPresence
    limiter: MemoryLimiter | RedisLimiter
    redis: RedisConnector | None = None  # None: in memory

    @property
    def shared(self) -> bool:
        """Whether every worker and host sees this state (Redis), or this process alone."""
        return self.redis is not None

    async def open(self) -> None:
        """Make the Redis connection pool on the running loop (the server's); nothing in memory."""
        if self.redis is not None:
            await self.redis.open()

    async def close(self) -> None:
        if self.redis is not None:
            await self.redis.close()

    async def ping(self) -> bool:
        """Whether the store answers (`/healthz`): always in memory, a Redis PING otherwise."""
        return True if self.redis is None else await self.redis.ping()

    async def reset(self) -> None:
        """Forget every socket, viewer and rate-limit hit (`manage.py reset_viewing_state`, tests)."""
        await self.presence.reset()
        await self.limiter.reset()


def build_state(redis_url: str | None, *, channel: str, host_id: str | None = None) -> State:
    """A `State` for `redis_url` (None: in memory), its Redis keys under `channel`."""
    if not redis_url:
        return State(presence=MemoryPresence(), limiter=MemoryLimiter())
    connector = RedisConnector(redis_url)
    return State(
        presence=RedisPresence(connector, prefix=f"{channel}:presence", host_id=host_id),
        limiter=RedisLimiter(connector, prefix=f"{channel}:ratelimit"),
        redis=connector,
    )


_state: State | None = None
_built_for: tuple[str | None, str] | None = None
_lock = threading.Lock()


def get_state() -> State:
    """The process's state; built again when `REDIS_URL` or `SOCKETIO_CHANNEL` changed (tests)."""
    global _state, _built_for
    wanted = (settings.REDIS_URL or None, settings.SOCKETIO_CHANNEL)
    if _state is None or _built_for != wanted:
        with _lock:
            if _state is None or _built_for != wanted:
                _state = build_state(wanted[0], channel=wanted[1])
                _built_for = wanted
    return _state


async def open_state() -> None:
    """Start-up: the process's state opens its pool on this (the server's) loop."""
    await get_state().open()


async def close_state() -> None:
    """Shut-down: close the pool the state opened."""
    if _state is not None:
        await _state.close()


def reset_state_store() -> None:
    """Forget the configured state (tests that switch `REDIS_URL` and want a fresh one)."""
    global _state, _built_for
    with _lock:
        _state, _built_for = None, None
