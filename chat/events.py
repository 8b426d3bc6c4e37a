"""Server events leave after commit, from services only (STYLE.md).

Services are synchronous and run in the ORM's thread; the Socket.IO server lives on the event loop.
`publish()` registers the emit with `transaction.on_commit`, so nothing is announced that was rolled
back, and hands it to the loop in the order the commits happened: one sender's events therefore reach
every receiver in the order they were committed.

Outside the server process (a management command, the push worker) there is no loop; with
`REDIS_URL` set the emit goes through a write-only Redis manager and reaches the sockets of every
worker, without it there is nobody to tell and the event is dropped with a debug line.
`disconnect_user_sockets()` reaches a user's sockets the same three ways.

An event hidden from some users (a block, CONTRACT §11) skips their sockets, which presence (chat.state)
names on the loop at emit time: never from the ORM's thread, never while a transaction is open. That
lookup may wait on Redis, so emits to one room keep their order: each begins only after the room's
previous emit has begun, while emits to other rooms go on meanwhile.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
from collections.abc import Awaitable, Callable, Iterable
from functools import partial

from django.conf import settings
from django.db import transaction

from chat.state.store import get_state

logger = logging.getLogger("chat.events")


def chat_room(chat_id: int) -> str:
    return f"chat:{int(chat_id)}"


def user_room(user_id) -> str:
    return f"user:{user_id}"


class _Bridge:
    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.sio = None
        self._external = None
        self._external_server_instance = None
        self._lock = threading.Lock()
        self._tasks: set[asyncio.Task] = set()
        # Calls handed over from other threads, in call order, not yet run on the loop (see `run`).
        self._handed: list[Callable[[], None]] = []
        # While a group commit writes a batch (`hold`): the calls that wait for its answers, in order.
        self._holds = 0
        self._held: list[Callable[[], None]] = []
        # Plain room emits that the current loop turn collected, delivered by one task (see `_schedule_in_room`).
        self._plain: list[tuple] | None = None
        self._emit_many = None
        # room -> a future resolved when the room's latest scheduled emit has begun (emits keep their order).
        self._room_turn: dict[str, asyncio.Future] = {}

    def attach(self, sio, loop: asyncio.AbstractEventLoop) -> None:
        self.sio = sio
        self.loop = loop
        # Our managers deliver a run of plain emits in one call (chat.sockets.managers.DirectEmit).
        self._emit_many = getattr(sio.manager, "emit_many", None)

    def detach(self) -> None:
        self.loop = None

    async def settle(self, timeout: float) -> None:
        """Until the emits already handed to the loop have run (a graceful stop), at most `timeout` s."""
        await asyncio.sleep(0)  # those handed over from the ORM's thread a moment ago start first
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    def _external_manager(self):
        with self._lock:
            if self._external is None and settings.REDIS_URL:
                import socketio

                self._external = socketio.RedisManager(
                    settings.REDIS_URL, channel=settings.SOCKETIO_CHANNEL, write_only=True
                )
            return self._external

    def _external_server(self):
        """A `socketio.Server` around the write-only manager, for what the manager cannot do alone.

        `RedisManager.disconnect()` on a write-only manager hands the request to its server before
        publishing it (python-socketio issue #684), and a write-only manager has none. Through a server
        the documented call works: `Server.disconnect(sid)` finds the socket is not here and publishes
        the request, and the worker holding the socket disconnects it.
        """
        manager = self._external_manager()
        if manager is None:
            return None
        with self._lock:
            if self._external_server_instance is None:
                import socketio

                self._external_server_instance = socketio.Server(client_manager=manager)
            return self._external_server_instance

    def run(self, factory: Callable[[], Awaitable], description: str, *, direct: bool = False) -> None:
        """Run a coroutine on the server loop, from any thread, in call order (`direct`: `factory` is
        a plain function to call on the loop, which spawns what it needs)."""
        loop = self.loop
        if loop is None or loop.is_closed():
            logger.debug("no socket server in this process; dropped %s", description)
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        call = factory if direct else partial(self._spawn, factory, description)
        if running is loop:
            if self._held:
                self._held.append(call)  # after the calls held before it
            else:
                call()
            return
        # From another thread (the ORM's, after a commit): calls queue up in call order, and only the
        # first of a run wakes the loop, so a batch's hundred emits cost one hand-over, not a hundred.
        with self._lock:
            self._handed.append(call)
            first = len(self._handed) == 1
        if first:
            # A fresh context, not the ORM thread's: that one is a copy of the calling task's, with
            # asgiref's deadlock guard set, and every task spawned in it would inherit the guard; a
            # disconnect handler run inside such a task (a ping timeout noticed by a broadcast) then
            # failed its own hop to the ORM with "Single thread executor already being used".
            loop.call_soon_threadsafe(self._run_handed, context=contextvars.Context())

    def hold(self) -> None:
        """On the loop: calls handed over from now on wait for `release()`, in order, and so do those
        made on the loop while any wait.

        A group commit holds while its batch is written, so that the announcements its commit hands
        over go out after its senders' answers: the sender, who awaits the answer, hears it a broadcast
        sooner (to a 100-member group, 100 deliveries were written before the answer), and the members
        hear the message one loop turn later. What other threads hand over meanwhile waits with them,
        at most as long as the batch's write."""
        self._holds += 1

    def release(self) -> None:
        """On the loop: end a `hold()`; what waited runs now, in order (whoever else still holds)."""
        self._holds -= 1
        calls, self._held = self._held, []
        self._run_calls(calls)

    def _run_handed(self) -> None:
        """On the loop: every call handed over so far, in the order they were made (held, during `hold`)."""
        with self._lock:
            calls, self._handed = self._handed, []
        if self._holds:
            self._held.extend(calls)
            return
        self._run_calls(calls)

    @staticmethod
    def _run_calls(calls: list[Callable[[], None]]) -> None:
        for call in calls:
            try:
                call()
            except Exception:
                logger.exception("a call handed to the socket server failed")

    def _spawn(self, factory: Callable[[], Awaitable], description: str) -> None:
        # Each emit task in a context of its own (see `run`): nothing of its caller's leaks into it.
        task = self.loop.create_task(self._guard(factory, description), context=contextvars.Context())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _guard(factory, description):
        try:
            await factory()
        except Exception:
            logger.exception("failed to deliver %s", description)

    def emit(self, event: str, data, *, room: str, skip_sid=None, hidden_user_ids: Iterable = ()) -> None:
        """Emit `event` to `room` from any thread, skipping `skip_sid` and the sockets of `hidden_user_ids`."""
        hidden = tuple(str(u) for u in hidden_user_ids)
        if self.loop is not None and not self.loop.is_closed():
            self.run(
                partial(self._schedule_in_room, event, data, room, skip_sid, hidden), f"{event} to {room}", direct=True
            )
            return
        external = self._external_manager()
        if external is not None:
            if hidden:
                # No loop of ours in this process: ask presence on a loop of this call's own.
                skip_sid = asyncio.run(_skip_list(skip_sid, hidden))
            external.emit(event, data, namespace="/", room=room, skip_sid=skip_sid)
        else:
            logger.debug("no socket server reachable; dropped %s to %s", event, room)

    def _schedule_in_room(self, event: str, data, room: str, skip_sid, hidden: tuple[str, ...]) -> None:
        """On the loop: the emit's task, after the room's previous emit in the order of this call."""
        previous = self._room_turn.get(room)
        if not hidden and previous is None:
            # Nothing to look up and nothing before it still looking (the common case): the emits of
            # this loop turn join one task, which delivers them in order at its first step (a local
            # emit never yields), before any task spawned after it runs; with Redis it then publishes
            # them as one message (chat.sockets.managers: DirectEmit.emit_many and its Redis override).
            if self._emit_many is None:
                self._spawn(partial(self.sio.emit, event, data, room=room, skip_sid=skip_sid), f"{event} to {room}")
                return
            if self._plain is None:
                self._plain = []
                self._spawn(partial(self._emit_plain, self._plain), "room emits")
            self._plain.append((event, data, room, skip_sid))
            return
        self._plain = None  # what follows must not join a task spawned before this one
        turn = self.loop.create_future()
        self._room_turn[room] = turn
        turn.add_done_callback(partial(self._turn_over, room))
        self._spawn(
            partial(self._emit_in_turn, event, data, room, skip_sid, hidden, previous, turn), f"{event} to {room}"
        )

    async def _emit_plain(self, emits: list[tuple]) -> None:
        if self._plain is emits:
            self._plain = None  # later emits start a task of their own
        await self._emit_many(emits)

    def _turn_over(self, room: str, turn: asyncio.Future) -> None:
        if self._room_turn.get(room) is turn:
            del self._room_turn[room]

    async def _emit_in_turn(self, event, data, room, skip_sid, hidden, previous, turn: asyncio.Future) -> None:
        try:
            try:
                if hidden:
                    skip_sid = await _skip_list(skip_sid, hidden)
            finally:
                if previous is not None and not previous.done():
                    await asyncio.shield(previous)
        except BaseException:
            turn.set_result(None)
            raise
        # Resolved right before the emit starts: python-socketio queues the packets before it first
        # yields, so the next emit in this room cannot overtake this one.
        turn.set_result(None)
        await self.sio.emit(event, data, room=room, skip_sid=skip_sid)

    def disconnect_user(self, user_id) -> None:
        user_id = str(user_id)
        if self.loop is not None and not self.loop.is_closed():
            self.run(partial(self._disconnect_on_loop, user_id), f"disconnect of the sockets of {user_id}")
            return
        server = self._external_server()
        if server is None:
            logger.debug("no socket server reachable; dropped the disconnect of the sockets of %s", user_id)
            return
        # With REDIS_URL presence is in Redis too: it knows the user's sockets on every worker and host.
        # No loop of ours in this process: ask it on a loop of this call's own.
        for sid in asyncio.run(get_state().presence.user_sids(user_id)):
            server.disconnect(sid, namespace="/")

    async def _disconnect_on_loop(self, user_id: str) -> None:
        # This process's sockets in the user's room, and (with Redis) those presence knows elsewhere:
        # `sio.disconnect()` publishes the request for a socket that is not here.
        sids = {sid for sid, _eio_sid in self.sio.manager.get_participants("/", user_room(user_id))}
        sids.update(await get_state().presence.user_sids(user_id))
        for sid in sids:
            await self.sio.disconnect(sid, namespace="/")


async def _skip_list(skip_sid: str | None, hidden_user_ids: Iterable) -> str | list[str] | None:
    """`skip_sid` plus every socket of the hidden users, as python-socketio's `skip_sid` takes it (a
    list travels in the Redis manager's message too, and every worker skips its own sockets on it)."""
    sids = list(await get_state().presence.sids_of_users(hidden_user_ids))
    if not sids:
        return skip_sid
    if skip_sid is not None:
        sids.append(skip_sid)
    return sids


bridge = _Bridge()


def publish(event: str, data, *, room: str, skip_sid=None, hidden_user_ids: Iterable = ()) -> None:
    """Emit `event` to `room` once the current transaction commits (at once outside a transaction),
    skipping `skip_sid` and the sockets of `hidden_user_ids` (looked up on the loop, at emit time)."""
    hidden = tuple(hidden_user_ids)
    if hidden:
        emit = partial(bridge.emit, event, data, room=room, skip_sid=skip_sid, hidden_user_ids=hidden)
    else:
        emit = partial(bridge.emit, event, data, room=room, skip_sid=skip_sid)
    transaction.on_commit(emit, robust=True)


def after_commit(factory: Callable[[], Awaitable], description: str) -> None:
    """Run a coroutine on the socket server loop once the current transaction commits.

    For room changes (a removed member's sockets leave the chat room) that must follow the commit.
    """
    transaction.on_commit(partial(bridge.run, factory, description), robust=True)


def disconnect_user_sockets(user_id) -> None:
    """Disconnect every verified socket of a user at once, on every worker and host (CONTRACT §2: a
    deactivated user). Each socket's disconnect handler then runs as for any disconnect (presence,
    `clientStatus`, viewing, typing).

    From any thread, and not inside a transaction (schedule it with `transaction.on_commit`, as the
    `post_save` receiver in `chat/receivers.py` does). In the server process it runs on the loop;
    elsewhere (a management command, `manage.py shell`) it goes through the write-only Redis manager
    when `REDIS_URL` is set, and is dropped with a debug line otherwise: then no socket server can be
    reached, and the per-event `is_active` check of `chat/sockets/auth.py` catches the user's next event.
    """
    bridge.disconnect_user(user_id)
