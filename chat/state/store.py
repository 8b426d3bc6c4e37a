"""The state layer outside the database: presence, viewing and rate limits behind one object.

`get_state()` is the process's one `State`: in memory without `REDIS_URL`, in Redis with it, where
presence and rate limits share one `redis.asyncio` connection pool (chat.state.redis_client). Every
method is a coroutine, awaited on the event loop by the transports (socket handlers, the upload guard,
REST views through `async_to_sync`, the bridge that emits after a commit), never from the ORM's thread
and never inside a database transaction (tests/sockets/test_state_outside_transactions.py proves it).

Start-up opens the state on the server's loop (its pool lives there) and shut-down closes it. With Redis
a watcher runs there too: after an outage, or when Redis turns out to have restarted empty, it publishes
this host's own sockets (presence, viewing) again, within REDIS_RETRY_SECONDS of Redis answering.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from dataclasses import dataclass, field

from django.conf import settings

from chat.state.presence import MemoryPresence, RedisPresence
from chat.state.ratelimit import MemoryLimiter, RedisLimiter
from chat.state.redis_client import RedisConnector

logger = logging.getLogger("chat.state")


@dataclass
class State:
    presence: MemoryPresence | RedisPresence
    limiter: MemoryLimiter | RedisLimiter
    redis: RedisConnector | None = None  # None: in memory

    @property
    def shared(self) -> bool:
        """Whether every worker and host sees this state (Redis), or this process alone."""
        return self.redis is not None

    _watcher: asyncio.Task | None = field(default=None, init=False, repr=False)

    async def open(self) -> None:
        """Make the Redis connection pool on the running loop (the server's), and watch Redis from there;
        nothing in memory."""
        if self.redis is not None:
            await self.redis.open()
            self._watcher = asyncio.get_running_loop().create_task(self._watch(), name="redis-watcher")

    async def close(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        if self.redis is not None:
            await self.redis.close()

    async def _watch(self) -> None:
        """Every REDIS_RETRY_SECONDS: is Redis back after an outage, or did it lose this host's keys (an
        empty restart nobody noticed)? Then this host's presence and viewing go back into it."""
        while True:
            await asyncio.sleep(settings.REDIS_RETRY_SECONDS)
            try:
                await self.heal()
            except Exception:  # still down, or down again: the next round tries again
                logger.debug("Redis still unavailable", exc_info=True)

    async def heal(self) -> bool:
        """One round of `_watch`; True when it published this host's presence again."""
        if self.redis is None or not isinstance(self.presence, RedisPresence):
            return False
        if not self.redis.down and not await self.presence.lost_by_redis():
            return False
        ttl = settings.PRESENCE_HOST_TTL
        await self.presence.republish(ttl)
        was_down, self.redis.down = self.redis.down, False
        # Once more with Redis in use again: what changed while the first pass ran.
        count = await self.presence.republish(ttl)
        logger.warning("Redis %s: the presence of this host's %d socket(s) published again",
                       "is back" if was_down else "had lost this host's keys", count)  # fmt: skip
        return True

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
