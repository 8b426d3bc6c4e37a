"""Sending never delays the ack or the `message` broadcast (CONTRACT §7): a provider that takes 2 s
per send, and both still arrive within 200 ms. The send runs on the delivery loop's own thread, not
on the ORM thread that socket handlers share."""

from __future__ import annotations

import time

import pytest

from chat.services.chats import chat_direct_get_or_create
from notifications.models import Push, PushState
from tests.conftest import run_sync
from tests.notifications import backends_for_tests
from tests.notifications.conftest import add_device, delivered

pytestmark = pytest.mark.django_db(transaction=True)


async def test_a_two_second_provider_delays_neither_ack_nor_broadcast(clients, make_user, settings):
    settings.PUSH_BACKEND = "tests.notifications.backends_for_tests.SlowBackend"
    backends_for_tests.slow_started.clear()
    alice, bob, carol = make_user("Alice"), make_user("Bob"), make_user("Carol")
    add_device(bob)  # Bob is offline: every message to him is pushed
    chat, _ = run_sync(chat_direct_get_or_create, user=alice, other=bob)
    sender = await clients(alice)
    assert (await sender.call("joinRoom", {"chatHeaderId": chat.pk}))["joined"]
    # Another chat keeps going while the provider is busy.
    other_chat, _ = run_sync(chat_direct_get_or_create, user=carol, other=alice)
    carol_socket = await clients(carol)
    assert (await carol_socket.call("joinRoom", {"chatHeaderId": other_chat.pk}))["joined"]

    for n, (client, chat_id) in enumerate([(sender, chat.pk), (sender, chat.pk), (carol_socket, other_chat.pk)]):
        broadcasts = len(client.events["message"])
        started = time.monotonic()
        ack = await client.call("createMessage", {"chatHeaderId": chat_id, "message": f"m{n}", "messageType": 0})
        acked = time.monotonic() - started
        await client.received("message", broadcasts + 1)
        broadcast = time.monotonic() - started
        assert "chatMessage" in ack, ack
        assert acked < 0.2, f"ack of message {n} took {acked:.3f}s"
        assert broadcast < 0.2, f"broadcast of message {n} took {broadcast:.3f}s"
        if n == 0:
            # From here on the provider is busy with the first push.
            assert backends_for_tests.slow_started.wait(1)

    await delivered(timeout=8)  # and the pushes did go out
    assert run_sync(lambda: list(Push.objects.values_list("state", flat=True))) == [PushState.SENT] * 2
