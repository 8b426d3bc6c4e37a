"""A graceful stop of the socket server (README, "Failure modes"): on SIGTERM (or the first SIGINT) the
server takes no new events, lets the events already running finish and send their answers, writes what
group commit still holds, then disconnects every socket (each one's disconnect handler runs: presence,
`lastSeen`, `clientStatus`), and only then lets uvicorn stop. The whole drain is bounded by
CHAT_SHUTDOWN_GRACE_SECONDS.

Why not uvicorn's own graceful stop: on SIGTERM uvicorn closes every WebSocket at once (close code 1012)
and sends the ASGI lifespan shutdown only afterwards, so events still running answered into closed
sockets: their messages were stored, their acks never sent. So the first signal is caught here
(installed at start-up, in the main thread, in front of uvicorn's handler) and handed on to uvicorn once
the drain is over; a second signal during the drain is handed on at once (uvicorn's forced exit).

Events are counted by `admission` (chat/sockets/server.py `on()`): an event that arrives while the server
is stopping is answered `server_error` ("the server is restarting") without being handled, and nothing
of it is stored; the client sends it again once it has reconnected elsewhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import time
from collections.abc import Awaitable, Callable

from chat.errors import ApplicationError

logger = logging.getLogger("chat.sockets")


class ServerStopping(ApplicationError):
    default_message = "The server is restarting: connect again and send it once more."


class Admission:
    """Which events are running, and whether new ones are taken (one per process, on the loop)."""

    def __init__(self) -> None:
        self.stopping = False
        self._running = 0
        self._idle: asyncio.Event | None = None

    def refuse_if_stopping(self) -> None:
        """ServerStopping once the server is stopping: the event is answered, not handled."""
        if self.stopping:
            raise ServerStopping()

    def begin(self) -> None:
        """One event's handling (and the sending of its answer) begins; `end()` it in a `finally`. Two
        calls, not a context manager: this runs for every event, and a generator-based one cost more
        than the counting."""
        self._running += 1

    def end(self) -> None:
        self._running -= 1
        if not self._running and self._idle is not None:
            self._idle.set()

    @property
    def running(self) -> int:
        return self._running

    async def stop_and_wait(self, timeout: float) -> bool:
        """Take no new events; True once those running have finished, False when `timeout` passed first."""
        self.stopping = True
        if not self._running:
            return True
        self._idle = asyncio.Event()
        try:
            await asyncio.wait_for(self._idle.wait(), timeout)
            return True
        except TimeoutError:
            return False

    def reset(self) -> None:
        """Take events again (a server started again in the same process: tests)."""
        self.stopping = False
        self._idle = None


admission = Admission()

_HANDLED = (signal.SIGTERM, signal.SIGINT)


class GracefulStop:
    """The signal handlers in front of uvicorn's, and the drain they start."""

    def __init__(self, drain: Callable[[], Awaitable[None]]) -> None:
        self._drain = drain
        self._previous: dict[int, object] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task | None = None
        self._pending: list[tuple[int, object]] = []

    def install(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Catch SIGTERM and SIGINT (only the main thread may: an in-process test server does not)."""
        if threading.current_thread() is not threading.main_thread():
            return False
        self._loop = loop
        for sig in _HANDLED:
            self._previous[sig] = signal.getsignal(sig)
            signal.signal(sig, self._on_signal)
        return True

    def uninstall(self) -> None:
        for sig, handler in self._previous.items():
            with contextlib.suppress(ValueError, TypeError):
                if signal.getsignal(sig) == self._on_signal:
                    signal.signal(sig, handler)
        self._previous.clear()

    def _on_signal(self, sig: int, frame) -> None:
        if self._task is not None or self._loop is None or self._loop.is_closed():
            self._hand_on(sig, frame)  # a second signal: stop now
            return
        self._pending.append((sig, frame))
        self._loop.call_soon_threadsafe(self._start)

    def _start(self) -> None:
        if self._task is None:
            self._task = self._loop.create_task(self._run(), name="graceful-stop")

    async def _run(self) -> None:
        started = time.monotonic()
        try:
            await self._drain()
        except Exception:
            logger.exception("graceful stop failed; stopping anyway")
        logger.warning("graceful stop: drained in %.2f s", time.monotonic() - started)
        for sig, frame in self._pending:
            self._hand_on(sig, frame)

    def _hand_on(self, sig: int, frame) -> None:
        previous = self._previous.get(sig)
        if callable(previous):
            previous(sig, frame)
        elif previous == signal.SIG_DFL:
            signal.signal(sig, signal.SIG_DFL)
            signal.raise_signal(sig)
