"""Per-user rate limits (CONTRACT §4, §11): one budget per user and action, each a setting such as
`CHAT_RATE_LIMIT` ("30/10s"; "0" or "" turns it off).

A sliding window (a moving-window log): a hit is allowed while fewer than `limit` hits were allowed in
the last `window` seconds, so a burst at a window boundary cannot double the rate as a fixed window
would. Only allowed hits are recorded: a client that keeps retrying while limited gets through again as
soon as the window has room.

With `REDIS_URL` the log is the `limits` library's moving window in Redis (a Lua script per hit, keys
under `SOCKETIO_CHANNEL:ratelimit:`), on the process's one connection pool, so that every worker and
host shares one budget atomically. While Redis is down each worker counts in its own memory
(`MemoryLimiter`): a user gets the budget once per worker he reaches, not without limit, and nobody is
refused because the limiter is out (a limiter outage must not stop people from chatting). Without
`REDIS_URL`, the log lives in this process (`MemoryLimiter`: `limits`' in-memory storages sweep expired
entries with a thread per call or a thread hop per key, which the event loop's hot path cannot afford).

The API is async and awaited on the event loop by the transports, before their hop to the ORM: never
from the ORM's thread, never inside a transaction. REST views, which run in a thread, await it through
`asgiref.sync.async_to_sync` before they call the service.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from chat.errors import RateLimited
from chat.state.redis_client import RedisConnector, redis_errors
from chat.state.redis_keys import adelete_keys_with_prefix

logger = logging.getLogger("chat.state.ratelimit")

_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*(?:\.\d+)?)\s*(s|sec|m|min|h|hour)\s*$")


@dataclass(frozen=True)
class Rate:
    limit: int
    window: float  # seconds


@lru_cache(maxsize=16)
def parse_rate(value: str | None) -> Rate | None:
    """ "30/10s" -> Rate(30, 10.0); "0", "" or None -> None (no limit). The window is whole seconds."""
    if value is None or value.strip() in {"", "0"}:
        return None
    match = _RATE.match(value)
    if not match:
        raise ImproperlyConfigured(f"a rate limit must look like '30/10s' (or '0' for none), got {value!r}")
    limit, amount, unit = int(match[1]), float(match[2] or 1), _UNITS[match[3]]
    if limit == 0:
        return None
    window = amount * unit
    if window <= 0:
        raise ImproperlyConfigured(f"a rate limit needs a positive window, got {value!r}")
    if window != int(window):
        raise ImproperlyConfigured(f"a rate limit's window is a whole number of seconds, got {value!r}")
    return Rate(limit=limit, window=window)


class MemoryLimiter:
    """The sliding-window log in this process. Never awaits inside a call: atomic on the loop."""

    SWEEP_EVERY = 10_000  # hits between sweeps that forget users idle for a whole window

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._since_sweep = 0

    async def hit(self, key: str, rate: Rate) -> bool:
        """Count one hit under `key`; False (nothing counted) when the window is full."""
        now = time.monotonic()
        with self._lock:
            self._since_sweep += 1
            if self._since_sweep >= self.SWEEP_EVERY:
                self._since_sweep = 0
                # Without this, a long-running process keeps one entry per user it has ever seen.
                for idle in [k for k, h in self._hits.items() if not h or h[-1] <= now - rate.window]:
                    del self._hits[idle]
            hits = self._window(key, rate, now)
            if len(hits) >= rate.limit:
                return False
            hits.append(now)
            return True

    async def test(self, key: str, rate: Rate) -> bool:
        """Whether a hit would be allowed now, counting nothing."""
        now = time.monotonic()
        with self._lock:
            return len(self._window(key, rate, now)) < rate.limit

    def _window(self, key: str, rate: Rate, now: float) -> deque[float]:
        hits = self._hits[key]
        while hits and hits[0] <= now - rate.window:
            hits.popleft()
        return hits

    async def reset(self) -> None:
        with self._lock:
            self._hits.clear()


class RedisLimiter:
    """`limits`' moving window in Redis (`MovingWindowRateLimiter` over its `redis.asyncio` storage),
    on the shared connection pool. Fails open."""

    def __init__(self, redis: RedisConnector | str, prefix: str) -> None:
        self._connector = redis if isinstance(redis, RedisConnector) else RedisConnector(redis)
        self._prefix = prefix
        self._shared: tuple[object, object] | None = None  # (the shared client, its strategy)
        # While Redis is down each worker counts on its own (README, "Failure modes").
        self._fallback = MemoryLimiter()

    def _strategy(self, client):
        from limits.aio.storage import RedisStorage
        from limits.aio.strategies import MovingWindowRateLimiter

        if self._shared is not None and self._shared[0] is client:
            return self._shared[1]
        storage = RedisStorage(
            f"async+{self._connector.url}",
            implementation="redispy",
            connection_pool=client.connection_pool,
            key_prefix=self._prefix,
        )
        strategy = MovingWindowRateLimiter(storage)
        if client is self._connector.shared_client():
            self._shared = (client, strategy)
        return strategy

    @staticmethod
    def _item(rate: Rate):
        from limits import RateLimitItemPerSecond

        return RateLimitItemPerSecond(rate.limit, int(rate.window))

    async def hit(self, key: str, rate: Rate) -> bool:
        if not self._connector.down:
            try:
                async with self._connector.client() as client:
                    return await self._strategy(client).hit(self._item(rate), key)
            except redis_errors() as exc:
                self._connector.mark_down(exc)
        return await self._fallback.hit(key, rate)

    async def test(self, key: str, rate: Rate) -> bool:
        if not self._connector.down:
            try:
                async with self._connector.client() as client:
                    return await self._strategy(client).test(self._item(rate), key)
            except redis_errors() as exc:
                self._connector.mark_down(exc)
        return await self._fallback.test(key, rate)

    async def reset(self) -> None:
        await self._fallback.reset()
        async with self._connector.client() as client:
            await adelete_keys_with_prefix(client, self._prefix)


@dataclass(frozen=True)
class Budget:
    setting: str  # the settings name that holds the rate, e.g. "30/10s"
    what: str  # what is counted, for the error text


# CONTRACT §11: each action has its own budget, so that editing one message again and again or typing
# flags cannot get around the message limit. Several events may share one (edits and deletes).
BUDGETS: dict[str, Budget] = {
    "createMessage": Budget("CHAT_RATE_LIMIT", "messages"),
    "edit": Budget("CHAT_RATE_LIMIT_EDITS", "edits and deletes"),
    "typing": Budget("CHAT_RATE_LIMIT_TYPING", "typing updates"),
    "read": Budget("CHAT_RATE_LIMIT_READS", "read and delivered marks"),
    "react": Budget("CHAT_RATE_LIMIT_REACTIONS", "reactions"),
    "search": Budget("CHAT_RATE_LIMIT_SEARCH", "searches"),
    "newChat": Budget("CHAT_RATE_LIMIT_NEW_CHATS", "new chats"),
    "friendRequest": Budget("CHAT_RATE_LIMIT_FRIEND_REQUESTS", "friend requests"),
    "upload": Budget("CHAT_RATE_LIMIT_UPLOADS", "uploads"),
}


def rate_for(action: str) -> Rate | None:
    """The configured rate of `action` (a key of BUDGETS), None when that limit is off."""
    return parse_rate(getattr(settings, BUDGETS[action].setting))


def refusal(action: str) -> RateLimited:
    """The `rate_limited` error of `action`, saying its budget (a pure function: no state is asked)."""
    rate = rate_for(action)
    what = BUDGETS[action].what
    if rate is None:
        return RateLimited(f"Too many {what}. Slow down.")
    return RateLimited(f"Too many {what}: at most {rate.limit} every {rate.window:g} seconds. Slow down.")


def _limiter():
    from chat.state.store import get_state

    return get_state().limiter


async def rate_hit(*, user_id, action: str) -> bool:
    """Count one `action` by the user; False (and nothing counted) when its budget is spent."""
    rate = rate_for(action)
    if rate is None:
        return True
    return await _limiter().hit(f"{action}:{user_id}", rate)


async def check_rate(*, user_id, action: str) -> None:
    """Count one `action` by the user, or raise `rate_limited` when its budget is spent."""
    if not await rate_hit(user_id=user_id, action=action):
        raise refusal(action)


async def rate_allows(*, user_id, action: str) -> bool:
    """Whether the user's budget for `action` has room now, counting nothing: for calls that count only
    when they turn out to do something (a new chat), which then `rate_hit` once they did. Asking and
    counting are two steps: calls of one user racing from several sockets can exceed the budget by as
    many as are in flight at once (each socket handles at most CHAT_MAX_EVENTS_IN_FLIGHT)."""
    rate = rate_for(action)
    if rate is None:
        return True
    return await _limiter().test(f"{action}:{user_id}", rate)
