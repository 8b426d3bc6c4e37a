"""Start-up and shut-down of the socket server process (ASGI lifespan)."""

from __future__ import annotations

import asyncio
import logging

from chat.events import bridge
from chat.sockets import handlers  # noqa: F401 - registers the event handlers
from chat.sockets.server import sio

logger = logging.getLogger("chat.sockets")

# Callables run at start-up and shut-down (the push delivery loop registers here).
startup_hooks: list = []
shutdown_hooks: list = []


async def startup() -> None:
    bridge.attach(sio, asyncio.get_running_loop())
    for hook in startup_hooks:
        await hook()


async def shutdown() -> None:
    for hook in shutdown_hooks:
        try:
            await hook()
        except Exception:
            logger.exception("shutdown hook %s failed", hook)
    bridge.detach()


from chat.sockets import presence_upkeep  # noqa: E402

startup_hooks.append(presence_upkeep.start)
shutdown_hooks.append(presence_upkeep.stop)

# The push delivery loop (notifications) appends itself to the hooks above.
from notifications import server_hooks  # noqa: E402, F401
