"""Packets written straight to the connection (chat/sockets/backpressure.py, `send_now`; issue 9, fan-out):
a room emit builds its frame once and writes it to every member whose writer is idle, past Engine.IO's
queue and writer task; an answer is written from its handler's step; a socket with packets queued, or on
long-polling, gets them through its queue, in order. A group commit's answers go out before its
announcements (chat/events.py, `hold`)."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from engineio import packet as eio_packet

from chat.events import _Bridge, chat_room
from chat.sockets.server import sio
from chat.tokens import issue_token
from tests.sockets._message_helpers import group_chat, join, joined_group, on_server_loop
from tests.sockets.raw_socket import RawSocket

pytestmark = pytest.mark.django_db(transaction=True)

MEMBERS = 6


def eio_socket_of(sid: str):
    return sio.eio.sockets[sio.manager.eio_sid_from_sid(sid, "/")]


@pytest.fixture
async def group(clients, make_user):
    return await joined_group(clients, make_user, MEMBERS)


@pytest.fixture
async def raw(chat_server):
    made: list[RawSocket] = []

    async def factory(user, chat_id: int) -> RawSocket:
        sock = await RawSocket(chat_server.url).connect(user_id=user.pk, token=issue_token(user.pk))
        made.append(sock)
        (ack,) = await sock.call(json.dumps(["joinRoom", {"chatHeaderId": chat_id}]))
        assert ack.get("joined") is True, ack
        return sock

    yield factory
    for sock in made:
        await sock.close()


async def test_a_broadcast_to_idle_members_goes_past_their_queues(group):
    chat_id, _users, sockets = group
    queued = []

    async def broadcast():
        originals = {}
        for client in sockets:
            queue = eio_socket_of(client.sio.get_sid()).queue
            originals[queue] = queue.put_nowait
            queue.put_nowait = lambda item, put=queue.put_nowait: (queued.append(item), put(item))[1]
        try:
            await sio.emit("test:direct", {"n": 1}, room=chat_room(chat_id))
        finally:
            for queue, put in originals.items():
                queue.put_nowait = put

    await on_server_loop(broadcast())
    for client in sockets:
        assert await client.wait_for("test:direct") == {"n": 1}
    assert queued == []  # one packet per member went through its queue and writer before


async def test_a_member_with_a_packet_queued_hears_the_broadcast_after_it(make_user, raw):
    users = [make_user(f"Member {i}") for i in range(3)]
    chat_id = group_chat(users[0], *users[1:])
    sockets = [await raw(user, chat_id) for user in users]
    busy = sockets[1]

    async def queue_then_broadcast():
        # In one step of the loop: a packet waits on the busy member's queue (its writer has not run yet)
        # when the broadcast is written.
        eio_socket_of(busy.sid).queue.put_nowait(eio_packet.Packet(eio_packet.MESSAGE, '2["test:first",1]'))
        await sio.emit("test:second", 2, room=chat_room(chat_id))

    await on_server_loop(queue_then_broadcast())
    for sock in sockets:
        for _ in range(100):
            if ["test:second", 2] in sock.events:
                break
            await asyncio.sleep(0.02)
    assert [e for e in busy.events if e[0].startswith("test:")] == [["test:first", 1], ["test:second", 2]]
    for sock in (sockets[0], sockets[2]):
        assert [e for e in sock.events if e[0].startswith("test:")] == [["test:second", 2]]


async def test_a_long_polling_member_hears_the_broadcast_through_its_queue(group, clients, make_user):
    chat_id, users, sockets = group
    polling = await clients(users[1], transports=("polling",))
    await join(polling, chat_id)
    await on_server_loop(sio.emit("test:direct", "p", room=chat_room(chat_id)))
    assert await polling.wait_for("test:direct") == "p"
    assert await sockets[0].wait_for("test:direct") == "p"


async def test_the_sender_hears_its_answer_before_its_messages_broadcast(make_user, raw):
    """The answer is written from its handler's step, and the batch's announcements only after the
    handlers answered: the sender, who awaits the answer, is not kept waiting behind the broadcast."""
    users = [make_user(f"Member {i}") for i in range(4)]
    chat_id = group_chat(users[0], *users[1:])
    sockets = [await raw(user, chat_id) for user in users]
    sender = sockets[0]
    for n in range(3):
        sender.frames.clear()
        (ack,) = await sender.call(
            json.dumps(["createMessage", {"chatHeaderId": chat_id, "message": f"m{n}", "messageType": 0}])
        )
        assert ack["chatMessage"]["message"] == f"m{n}", ack
        for _ in range(100):
            if any(f.startswith('42["message"') for f in sender.frames):
                break
            await asyncio.sleep(0.02)
        kinds = [
            "answer" if f.startswith("43") else "echo" for f in sender.frames if f.startswith(("43", '42["message"'))
        ]
        assert kinds == ["answer", "echo"], sender.frames
    for sock in sockets[1:]:
        for _ in range(100):
            if sum(e[0] == "message" for e in sock.events) == 3:
                break
            await asyncio.sleep(0.02)
        assert [e[1]["chatMessage"]["message"] for e in sock.events if e[0] == "message"] == ["m0", "m1", "m2"]


async def test_held_calls_run_in_order_after_the_release():
    """`hold()`: calls handed over from another thread, and those made on the loop after them, wait for
    `release()` and then run in the order they were made."""
    hand = _Bridge()
    hand.attach(sio, asyncio.get_running_loop())  # this test's loop, not the server's
    ran = []

    def from_thread(name):
        thread = threading.Thread(target=hand.run, args=(lambda: ran.append(name), name), kwargs={"direct": True})
        thread.start()
        thread.join()

    hand.hold()
    from_thread("committed 1")
    from_thread("committed 2")
    await asyncio.sleep(0.01)  # the hand-over reached the loop
    hand.run(lambda: ran.append("on the loop"), "on the loop", direct=True)
    assert ran == []
    hand.release()
    assert ran == ["committed 1", "committed 2", "on the loop"]
    hand.run(lambda: ran.append("after"), "after", direct=True)  # nothing held: at once
    assert ran[-1] == "after"
