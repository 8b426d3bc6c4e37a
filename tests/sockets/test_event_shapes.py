"""CONTRACT §5: `messageDeleted` and `messageHasBeenRead` carry exactly the spec's one argument, and
`messageRead` carries the details, right after `messageHasBeenRead` and to the same sockets.

The listeners here are the spec's handler shape, a function of one parameter: python-socketio calls
a handler with every argument of the event, so a second argument raises TypeError in the client and
the handler never records anything.
"""

from __future__ import annotations

import pytest

from chat.services.moderation import messages_moderate_delete
from tests.conftest import barrier, run_sync
from tests.sockets._message_helpers import send

pytestmark = pytest.mark.django_db(transaction=True)


def one_parameter_listener(client, event: str) -> list:
    """Register the spec's handler shape, `(value) => ...`, for `event`; returns what it received."""
    got: list = []

    async def handler(value):
        got.append(value)
        client.changed()

    client.sio.on(event, handler)
    return got


async def arrived(client, got: list, count: int) -> list:
    """What a listener of `client` got, once it got `count` values (`Client.until`: no polling)."""
    return await client.until(lambda: got if len(got) >= count else None, what=f"{count} values in the listener")


async def test_message_deleted_is_the_message_id_alone(scene):
    s = scene
    deleted = one_parameter_listener(s.b1, "messageDeleted")
    sent = [await send(s.a1, s.chat_id, f"m{i}") for i in range(2)]
    ack = await s.a1.call("removeMessage", {"ids": [m["id"] for m in sent], "chatHeaderId": s.chat_id})
    assert ack == {"deletedIds": [m["id"] for m in sent]}
    assert await arrived(s.b1, deleted, 2) == [m["id"] for m in sent]
    assert all(type(value) is int for value in deleted)
    assert s.b1.sio.connected  # a TypeError in the handler would not have gone unnoticed either


async def test_a_moderators_delete_has_the_same_shape(scene):
    s = scene
    deleted = one_parameter_listener(s.b1, "messageDeleted")
    sent = await send(s.a1, s.chat_id, "spam")
    run_sync(messages_moderate_delete, message_ids=[sent["id"]])
    assert await arrived(s.b1, deleted, 1) == [sent["id"]]


async def test_message_has_been_read_is_the_chat_id_alone_then_message_read(scene):
    s = scene
    read = one_parameter_listener(s.a1, "messageHasBeenRead")
    details = one_parameter_listener(s.a1, "messageRead")
    sent = await send(s.a1, s.chat_id, "read me")
    ack = await s.b1.call("readMessage", {"chatHeaderId": s.chat_id})
    assert ack == {"chatHeaderId": s.chat_id, "lastReadMessageId": sent["id"], "unreadCount": 0}
    assert await arrived(s.a1, read, 1) == [s.chat_id]
    assert await arrived(s.a1, details, 1) == [
        {"chatHeaderId": s.chat_id, "userId": str(s.bob.pk), "lastReadMessageId": sent["id"]}
    ]
    # The reader's own sockets in the room hear both too, and nobody outside it.
    assert s.b1.events["messageHasBeenRead"] == [s.chat_id] and len(s.b1.events["messageRead"]) == 1
    await barrier(s.a2, s.b2, s.c1)
    for client in (s.a2, s.b2, s.c1):
        assert client.events["messageHasBeenRead"] == [] and client.events["messageRead"] == []


async def test_message_read_follows_message_has_been_read(scene):
    s = scene
    order: list[str] = []

    async def has_been_read(chat_id):
        order.append("messageHasBeenRead")
        s.a1.changed()

    async def message_read(detail):
        order.append("messageRead")
        s.a1.changed()

    s.a1.sio.on("messageHasBeenRead", has_been_read)
    s.a1.sio.on("messageRead", message_read)
    await send(s.a1, s.chat_id, "one")
    for _ in range(3):
        await s.b1.call("readMessage", {"chatHeaderId": s.chat_id})
    await arrived(s.a1, order, 6)
    assert order == ["messageHasBeenRead", "messageRead"] * 3
