"""Reading the server's presence from a test: the state layer is async (chat.state)."""

from __future__ import annotations

import asyncio

from chat.state.store import get_state


async def state_until(condition, timeout: float = 3) -> None:
    """Wait until the coroutine function `condition()` answers true: a server-side effect of a
    disconnect, which no socket event announces to the test."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.01)


def presence():
    return get_state().presence
