"""Room emits without one task per recipient (chat/sockets/managers.py): a broadcast to a group puts
the shared packet on each member's queue; python-socketio's own path remains for a socket whose client
stopped pinging (it is closed, as before) and for emits with a callback."""

from __future__ import annotations

import asyncio
import time

import pytest
from asgiref.sync import sync_to_async

from chat.events import bridge, chat_room
from chat.services.messages import NewMessage, message_create_many
from chat.sockets.server import sio
from tests.sockets._message_helpers import joined_group, on_server_loop, send
from tests.sockets.presence_support import state_until

pytestmark = pytest.mark.django_db(transaction=True)

MEMBERS = 12


async def tasks_created_by(emit) -> int:
    """How many tasks the server's loop creates while `emit()` runs there."""
    loop = asyncio.get_running_loop()
    previous = loop.get_task_factory()
    created = 0

    def counting(loop, coro, **kwargs):
        nonlocal created
        created += 1
        if previous is not None:
            return previous(loop, coro, **kwargs)
        return asyncio.Task(coro, loop=loop, **kwargs)

    loop.set_task_factory(counting)
    try:
        await emit()
    finally:
        loop.set_task_factory(previous)
    return created


@pytest.fixture
async def group(clients, make_user):
    return await joined_group(clients, make_user, MEMBERS)


async def test_a_broadcast_to_a_group_creates_no_task_per_member(group):
    chat_id, _users, sockets = group

    async def broadcast():
        return await tasks_created_by(lambda: sio.emit("test:fanout", {"n": 1}, room=chat_room(chat_id)))

    assert await on_server_loop(broadcast()) == 0  # python-socketio made one per member
    for client in sockets:
        assert await client.wait_for("test:fanout") == {"n": 1}


async def test_every_member_hears_each_message_once_and_in_order(group):
    chat_id, _users, sockets = group
    sent = [await send(sockets[i % 3], chat_id, f"m{i}") for i in range(5)]
    for client in sockets:
        heard = await client.received("message", count=5)
        assert [event["chatMessage"]["id"] for event in heard] == [message["id"] for message in sent]


async def test_skipped_sockets_hear_nothing(group):
    chat_id, _users, sockets = group
    skipped = {sockets[1].sio.get_sid(), sockets[2].sio.get_sid()}
    await on_server_loop(sio.emit("test:fanout", "x", room=chat_room(chat_id), skip_sid=list(skipped)))
    for client in sockets:
        await client.barrier()
        assert client.events["test:fanout"] == ([] if client.sio.get_sid() in skipped else ["x"])


async def test_a_socket_whose_client_stopped_pinging_is_closed_by_the_broadcast(group):
    """As python-socketio's `send` does: the broadcast finds the ping overdue and closes that socket
    (its session ends on the server); the others hear the event."""
    chat_id, _users, sockets = group
    gone = sockets[0]
    sid = gone.sio.get_sid()
    eio_sid = sio.manager.eio_sid_from_sid(sid, "/")

    async def stale_then_broadcast():
        socket = sio.eio.sockets[eio_sid]
        socket.last_ping = time.time() - sio.eio.ping_timeout - 1  # no ping for too long
        await sio.emit("test:fanout", "y", room=chat_room(chat_id))

    await on_server_loop(stale_then_broadcast())

    async def session_ended():
        return not sio.manager.is_connected(sid, "/")

    await state_until(session_ended)  # its disconnect handler ran
    assert gone.events["test:fanout"] == []
    for client in sockets[1:]:
        assert await client.wait_for("test:fanout") == "y"


async def test_a_batchs_announcements_reach_the_loop_together_and_in_order(group):
    """The group commit's emits leave the ORM's thread after its commit: they are handed to the loop in
    one go and delivered by one task, in commit order (one task per message before)."""
    chat_id, users, sockets = group
    requests = [NewMessage(sender=users[i % MEMBERS], chat_id=chat_id, message_type=0, text=f"b{i}") for i in range(20)]
    loop = bridge.loop
    previous = loop.get_task_factory()
    created = 0

    def counting(loop, coro, **kwargs):
        nonlocal created
        created += getattr(coro, "__qualname__", "").startswith("_Bridge.")  # not the sockets' writers
        if previous is not None:
            return previous(loop, coro, **kwargs)
        return asyncio.Task(coro, loop=loop, **kwargs)

    async def install(factory):
        loop.set_task_factory(factory)

    await on_server_loop(install(counting))
    try:
        results = await sync_to_async(message_create_many, thread_sensitive=False)(requests)
        heard = [await client.received("message", count=20) for client in sockets]
    finally:
        await on_server_loop(install(previous))
    ids = [message.pk for message, _ in results]
    for events in heard:
        assert [event["chatMessage"]["id"] for event in events] == ids
    assert created == 1  # one task for the batch's 20 room emits (20 before)
