"""Keeps shared presence honest when a worker dies (CONTRACT §3 with `REDIS_URL`).

Every server process refreshes its heartbeat in the presence store and removes the sockets of hosts
whose heartbeat has expired, announcing `clientStatus` offline for users that had no other socket.
With the in-process store all of this is a no-op. The store is async (chat.state) and awaited here on
the loop, on the process's shared connection pool.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from django.conf import settings

from chat.models import User
from chat.sockets.auth import announce_status
from chat.state.store import get_state

logger = logging.getLogger("chat.sockets")

_task: asyncio.Task | None = None


async def run_once() -> list[tuple[str, str]]:
    """Heartbeat, then reap dead hosts and announce who went offline; returns those users."""
    store = get_state().presence
    await store.heartbeat(settings.PRESENCE_HOST_TTL)
    offline = await store.reap_dead_hosts()
    for user_id, client_type in offline:
        try:
            await announce_status(User(pk=user_id), client_type, active=False)
        except Exception:
            logger.exception("offline announcement for %s (reaped) failed", user_id)
    if offline:
        logger.warning("removed %d user(s) left online by a server that stopped without closing", len(offline))
    return offline


async def _loop() -> None:
    interval = max(1, settings.PRESENCE_HOST_TTL // 3)
    while True:
        await asyncio.sleep(interval)
        try:
            await run_once()
        except Exception:
            logger.exception("presence upkeep failed; retrying in %ss", interval)


async def start() -> None:
    global _task
    # The first heartbeat goes out before this process accepts a socket, so no other host can take
    # it for dead while it registers its first connections.
    await run_once()
    _task = asyncio.get_running_loop().create_task(_loop())


async def stop() -> None:
    global _task
    if _task is not None:
        _task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await _task
        _task = None
    await get_state().presence.retire()
