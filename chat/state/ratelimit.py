"""Per-user rate limits (CONTRACT §4, §11): one budget per user and action, each a setting such as
`CHAT_RATE_LIMIT` ("30/10s"; "0" or "" turns it off).

A sliding-window log: a hit is allowed while fewer than `limit` hits were allowed in the last
`window` seconds, so a burst at a window boundary cannot double the rate as a fixed window would.
Only allowed hits are recorded: a client that keeps retrying while limited gets through again as soon
as the window has room.

Without `REDIS_URL` the log lives in this process. With it, in a Redis sorted set per user, checked
and updated by one Lua script so that every worker and host shares one budget atomically.

The API is synchronous: services call it from the ORM's thread, inside their transaction.
"""

from __future__ import annotations

import logging
import re
import threading
import time
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from chat.errors import RateLimited
from chat.state.redis_keys import delete_keys_with_prefix

logger = logging.getLogger("chat.state.ratelimit")

_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hour": 3600}
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d*(?:\.\d+)?)\s*(s|sec|m|min|h|hour)\s*$")


@dataclass(frozen=True)
class Rate:
    limit: int
    window: float  # seconds


@lru_cache(maxsize=16)
def parse_rate(value: str | None) -> Rate | None:
    """ "30/10s" -> Rate(30, 10.0); "0", "" or None -> None (no limit)."""
    if value is None or value.strip() in {"", "0"}:
        return None
    match = _RATE.match(value)
    if not match:
        raise ImproperlyConfigured(f"a rate limit must look like '30/10s' (or '0' for none), got {value!r}")
    limit, amount, unit = int(match[1]), float(match[2] or 1), _UNITS[match[3]]
    if limit == 0:
        return None
    if amount <= 0:
        raise ImproperlyConfigured(f"a rate limit needs a positive window, got {value!r}")
    return Rate(limit=limit, window=amount * unit)


class MemoryLimiter:
    SWEEP_EVERY = 10_000  # hits between sweeps that forget users idle for a whole window

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._hits: dict[str, deque[float]] = defaultdict(deque)
        self._since_sweep = 0

    def hit(self, key: str, rate: Rate) -> bool:
        now = time.monotonic()
        with self._lock:
            self._since_sweep += 1
            if self._since_sweep >= self.SWEEP_EVERY:
                self._since_sweep = 0
                # Without this, a long-running process keeps one entry per user it has ever seen.
                for idle in [k for k, h in self._hits.items() if not h or h[-1] <= now - rate.window]:
                    del self._hits[idle]
            hits = self._hits[key]
            while hits and hits[0] <= now - rate.window:
                hits.popleft()
            if len(hits) >= rate.limit:
                return False
            hits.append(now)
            return True

    def reset(self) -> None:
        with self._lock:
            self._hits.clear()


# KEYS[1] the user's log; ARGV: now (ms), window (ms), limit, a unique member for this hit.
_LUA = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1] - ARGV[2])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
    return 0
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
"""


class RedisLimiter:
    def __init__(self, url: str, prefix: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url)
        self._script = self._redis.register_script(_LUA)
        self._prefix = prefix

    def hit(self, key: str, rate: Rate) -> bool:
        import redis

        try:
            return self._hit(key, rate)
        except redis.RedisError:
            # Fail open: a limiter outage must not stop people from chatting.
            logger.warning("rate limiter unavailable; allowing %s", key, exc_info=True)
            return True

    def _hit(self, key: str, rate: Rate) -> bool:
        # Redis server time, not ours: every worker and host then agrees on the window.
        seconds, micros = self._redis.time()
        now_ms = seconds * 1000 + micros // 1000
        window_ms = max(1, int(rate.window * 1000))
        allowed = self._script(
            keys=[f"{self._prefix}:{key}"], args=[now_ms, window_ms, rate.limit, f"{now_ms}-{uuid.uuid4().hex}"]
        )
        return bool(allowed)

    def reset(self) -> None:
        delete_keys_with_prefix(self._redis, self._prefix)


_limiter: MemoryLimiter | RedisLimiter | None = None
_limiter_url: str | None = None
_limiter_lock = threading.Lock()


def get_limiter() -> MemoryLimiter | RedisLimiter:
    global _limiter, _limiter_url
    url = settings.REDIS_URL or None
    if _limiter is None or _limiter_url != url:
        with _limiter_lock:
            if _limiter is None or _limiter_url != url:
                prefix = f"{settings.SOCKETIO_CHANNEL}:ratelimit"
                _limiter = RedisLimiter(url, prefix) if url else MemoryLimiter()
                _limiter_url = url
    return _limiter


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


def check_rate(*, user_id, action: str) -> None:
    """Count one `action` (a key of BUDGETS) by the user, or raise `rate_limited` when its budget is spent."""
    budget = BUDGETS[action]
    value = getattr(settings, budget.setting)
    rate = parse_rate(value)
    if rate is None:
        return
    if not get_limiter().hit(f"{action}:{user_id}", rate):
        raise RateLimited(f"Too many {budget.what}: at most {rate.limit} every {rate.window:g} seconds. Slow down.")
