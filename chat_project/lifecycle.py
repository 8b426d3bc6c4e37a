"""Start-up and shut-down of a server process (ASGI lifespan): every step, in order, in one place.

Start: the graceful stop's signal handlers in front of uvicorn's (chat/sockets/shutdown.py), the
garbage collector tuned and its young collections on a clock, SQLite's WAL checkpoints moved off the
write path (on SQLite), the bridge from ORM threads to the loop attached, the state layer (presence,
viewing, rate limits) opened on this loop (its one Redis connection pool), presence heartbeats (and the
reaping of dead hosts) running, the in-process push delivery loop running.
Shut-down undoes them in reverse order.

A graceful stop (SIGTERM) runs `drain()` before uvicorn closes anything: no new events, the running
ones finish and answer, group commit writes what it holds, the emits of those commits go out, and every
socket is closed after its last packet (its disconnect handler runs); then uvicorn stops and the ASGI
lifespan shutdown above runs. Pushes are rows in the outbox (notifications/): whatever the delivery loop
did not send before the stop is sent by the next process that runs it.
"""

from __future__ import annotations

import asyncio
import gc
import logging

from django.conf import settings
from django.db.backends.signals import connection_created

from chat.events import bridge
from chat.sockets import (
    handlers,  # noqa: F401 - registers the event handlers (python-socketio's decorators)
    presence_upkeep,
)
from chat.sockets.message_batch import GroupCommit
from chat.sockets.server import sio
from chat.sockets.shutdown import GracefulStop, admission
from chat.state.store import close_state, open_state
from chat_project import sqlite_checkpoint
from notifications import in_process

logger = logging.getLogger("chat.sockets")


_graceful: GracefulStop | None = None


async def startup() -> None:
    global _graceful
    admission.reset()
    connection_created.connect(bound_server_connection, dispatch_uid=_BOUND)
    _graceful = GracefulStop(drain)
    _graceful.install(asyncio.get_running_loop())
    _tune_garbage_collector()
    young_collections.start(settings.CHAT_GC_YOUNG_INTERVAL_MS / 1000)
    sqlite_checkpoint.start()
    bridge.attach(sio, asyncio.get_running_loop())
    await open_state()
    await presence_upkeep.start()
    await in_process.start_delivery()


_BOUND = "chat_project.lifecycle.bound_server_connection"


def bound_server_connection(sender, connection, **kwargs) -> None:
    """Each database connection the server opens gets DB_SERVER_TIMEOUT_MS as its bound on one call.

    The ORM runs on one thread (asgiref's thread-sensitive executor): a call stuck behind a lock or a slow
    plan holds every event queued behind it. Their deadline (CHAT_EVENT_TIMEOUT_SECONDS) answers them
    `server_error`, but the thread stays taken until the database gives up; with this it gives up about
    then (PostgreSQL cancels the statement, SQLite stops waiting for its write lock), not after the 30 s /
    20 s that manage.py commands keep for long migrations. Only connected while serving (startup()).
    """
    timeout_ms = settings.DB_SERVER_TIMEOUT_MS
    if not timeout_ms:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(f"SET statement_timeout = {int(timeout_ms)}")
        elif connection.vendor == "sqlite":
            cursor.execute(f"PRAGMA busy_timeout = {int(timeout_ms)}")


def _tune_garbage_collector() -> None:
    """Keep Python's full collections from pausing every connection at once, and its young ones short.

    A server holding 1,000 sockets paused 150-200 ms in full collections once or twice every ten
    seconds (p99 latency ~125 ms at 100 msg/s). Everything loaded by now lives as long as the process,
    so it is moved out of the collector's sight, and full collections wait for 1,000 middle ones.

    The youngest generation keeps Python's default size (700): a pause grows with it, and requests
    leave reference cycles behind, so a young generation of 50,000 paused 40-70 ms once a second
    under 300-500 msg/s (p99 42 -> 8 ms at 300 msg/s, 63 -> 11 ms at 500 with the default size).
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(700, 10, 1_000)


class _YoungCollections:
    """Young (and middle) collections on a clock on the loop, besides CPython's own.

    CPython starts a young collection when allocations minus deallocations pass the threshold (700),
    and counts the deallocation of an object of any age. In a server whose older objects finish about
    as fast as new ones are made (a thousand sockets' waiters and tasks, which outlive a collection or
    two, then end), that difference stays small while the young generation fills with live objects:
    under 300-500 msg/s over 1,000 sockets, young collections found 10,000-30,000 objects (coroutines,
    contexts, futures) instead of 700, and paused the server 5-40 ms each, all of it CPU. On a clock,
    each finds what a few milliseconds made: well under a millisecond.

    The clock ticks every `interval` seconds while a tick finds more than `BUSY` young objects, and
    slows down, up to `IDLE_INTERVAL`, while it does not: an idle server wakes once a second, not a
    hundred times (a wake-up costs more than the collection). The middle generation is collected at every
    `threshold[1]`-th tick, as CPython would; full collections stay CPython's (`_tune_garbage_collector`).
    """

    BUSY = 100
    IDLE_INTERVAL = 1.0

    def __init__(self) -> None:
        self._task: asyncio.Task | None = None

    def start(self, interval: float) -> None:
        if interval > 0 and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(interval))

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def _run(self, interval: float) -> None:
        wait, tick = interval, 0
        while True:
            await asyncio.sleep(wait)
            tick += 1
            busy = len(gc.get_objects(0)) > self.BUSY
            gc.collect(1 if tick % max(1, gc.get_threshold()[1]) == 0 else 0)
            wait = interval if busy else min(wait * 2, max(interval, self.IDLE_INTERVAL))


young_collections = _YoungCollections()


async def drain() -> None:
    """The graceful stop, within CHAT_SHUTDOWN_GRACE_SECONDS (see the module docstring)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.CHAT_SHUTDOWN_GRACE_SECONDS

    def left() -> float:
        return max(0.0, deadline - loop.time())

    logger.warning("graceful stop: %d event(s) running, %d socket(s)", admission.running, len(sio.eio.sockets))
    if not await admission.stop_and_wait(left()):
        logger.warning("graceful stop: %d event(s) still running after the grace period", admission.running)
    try:
        await asyncio.wait_for(GroupCommit.drain_all(), left())
    except TimeoutError:
        logger.warning("graceful stop: group commit still writing after the grace period")
    await bridge.settle(left())
    # Engine.IO's close, not Socket.IO's disconnect: clients reconnect on their own (to another worker),
    # as after any lost connection; each close is sent after what the socket already has queued.
    closes = [socket.close(reason=sio.eio.reason.SERVER_DISCONNECT) for socket in list(sio.eio.sockets.values())]
    try:
        if closes:
            # Bounded on its own: a client that is gone (a long-polling one that never polls again)
            # would hold each close until the grace period ran out.
            await asyncio.wait_for(asyncio.gather(*closes, return_exceptions=True), min(max(left(), 0.5), 2.0))
    except TimeoutError:
        logger.warning("graceful stop: some sockets did not take their last packets in time")
    await asyncio.sleep(0.1)  # the writers hand their last packets to the transports


async def shutdown() -> None:
    if _graceful is not None:
        _graceful.uninstall()
    for step in (in_process.stop_delivery, presence_upkeep.stop, close_state):
        try:
            await step()
        except Exception:
            logger.exception("shutdown step %s failed", step.__qualname__)
    bridge.detach()
    sqlite_checkpoint.stop()
    young_collections.stop()
    connection_created.disconnect(dispatch_uid=_BOUND)
