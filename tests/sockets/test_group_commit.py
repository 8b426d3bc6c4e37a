"""Group commit over real sockets: a batch forms by itself while one is being written, a lone message
is written at once, and each message of a batch gets its own answer.

To make a batch form on demand, a test occupies the ORM's one thread (asgiref's thread-sensitive
executor, which the server's `sync_to_async` calls share with this process) until the messages it
wants in one batch have reached the server.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from contextlib import asynccontextmanager

import pytest
from asgiref.sync import sync_to_async

from chat import domain_events
from chat.models import ChatMessage
from chat.sockets.message_batch import message_writer, read_writer
from chat.state.store import get_state
from tests.conftest import db_call
from tests.sockets._message_helpers import direct_chat, join
from tests.sockets.presence_support import state_until

pytestmark = pytest.mark.django_db(transaction=True)


@asynccontextmanager
async def orm_thread_held():
    """The ORM's thread is busy until the block ends: the server's writes queue up meanwhile."""
    gate = threading.Event()
    held = asyncio.ensure_future(sync_to_async(gate.wait)())
    try:
        yield
    finally:
        gate.set()
        await held


def batch_sizes(caplog, what: str = "message(s)") -> list[int]:
    return [r.args[0] for r in caplog.records if r.getMessage().startswith("writing a batch of") and r.args[1] == what]


async def queued(count: int) -> None:
    """Until `count` messages wait for the next batch."""

    async def waiting():
        return len(message_writer._waiting) >= count

    await state_until(waiting)


async def in_flight() -> None:
    """Until a batch is being written and nothing waits: the next messages form the next batch."""

    async def taken():
        return message_writer.writing and not message_writer._waiting

    await state_until(taken)


def send(client, chat_id: int, text: str, **extra) -> asyncio.Future:
    payload = {"chatHeaderId": chat_id, "message": text, "messageType": 0, **extra}
    return asyncio.ensure_future(client.call("createMessage", payload))


@pytest.fixture
def batch_log(caplog):
    caplog.set_level(logging.DEBUG, logger="chat.sockets")
    return caplog


async def test_a_lone_message_is_written_at_once(clients, make_user, batch_log):
    """It does not wait for company: with the ORM's thread busy, it is already out of the queue and in
    a batch of its own, waiting only for the thread."""
    alice, bob = make_user("Alice"), make_user("Bob")
    chat_id = direct_chat(alice, bob)
    a = await clients(alice)
    async with orm_thread_held():
        ack = send(a, chat_id, "hi")
        await in_flight()
        assert batch_sizes(batch_log) == [1]
    assert (await ack)["chatMessage"]["message"] == "hi"


async def test_messages_that_arrive_during_a_write_form_one_batch_each_with_its_answer(clients, make_user, batch_log):
    alice, bob, carol = make_user("Alice"), make_user("Bob"), make_user("Carol")
    ab = direct_chat(alice, bob)
    a, a2, a3 = await clients(alice), await clients(alice), await clients(alice)
    b, c = await clients(bob), await clients(carol)
    await join(b, ab)
    async with orm_thread_held():
        first = send(a, ab, "first")
        await in_flight()
        pending = [
            send(b, ab, "from bob"),
            send(c, ab, "not mine"),
            send(a2, ab, "once", clientMessageId="same"),
            send(a3, ab, "once", clientMessageId="same"),  # the same retry from another of Alice's sockets
        ]
        await queued(4)
    first_ack = await first
    bob_ack, carol_ack, retry_ack, retry_copy_ack = await asyncio.gather(*pending)
    assert first_ack["chatMessage"]["message"] == "first"
    assert bob_ack["chatMessage"]["message"] == "from bob"
    assert carol_ack["code"] == "forbidden"
    assert retry_ack["chatMessage"]["id"] == retry_copy_ack["chatMessage"]["id"]
    assert batch_sizes(batch_log) == [1, 4]
    stored = await db_call(lambda: list(ChatMessage.objects.order_by("id").values_list("message", flat=True)))()
    assert stored == ["first", "from bob", "once"]
    # Bob's socket in the room heard each stored message once, in the order they were stored.
    heard = await b.received("message", 3)
    assert [m["chatMessage"]["message"] for m in heard] == stored


async def test_a_failing_batch_answers_every_message_and_stores_nothing(clients, make_user, batch_log):
    alice, bob = make_user("Alice"), make_user("Bob")
    chat_id = direct_chat(alice, bob)
    a, a2, b = await clients(alice), await clients(alice), await clients(bob)
    await join(b, chat_id)

    def broken_outbox(sender, **kwargs):
        raise RuntimeError("the outbox is gone")

    domain_events.messages_stored.connect(broken_outbox, dispatch_uid="test-broken-outbox")
    try:
        async with orm_thread_held():
            pilot = send(a, chat_id, "pilot")  # a batch of its own, in flight: the next two form one
            await in_flight()
            acks = [send(a2, chat_id, "one"), send(b, chat_id, "two")]
            await queued(2)
        answers = await asyncio.gather(pilot, *acks)
    finally:
        domain_events.messages_stored.disconnect(dispatch_uid="test-broken-outbox")
    assert [answer["code"] for answer in answers] == ["server_error"] * 3
    assert batch_sizes(batch_log) == [1, 2]
    assert await db_call(ChatMessage.objects.count)() == 0
    await b.barrier()
    assert b.events["message"] == []


async def test_reads_that_arrive_during_a_write_form_one_batch_each_with_its_answer(clients, make_user, batch_log):
    alice, bob, carol = make_user("Alice"), make_user("Bob"), make_user("Carol")
    ab = direct_chat(alice, bob)
    a, a2, b, c = await clients(alice), await clients(alice), await clients(bob), await clients(carol)
    sent = (await a.call("createMessage", {"chatHeaderId": ab, "message": "read me", "messageType": 0}))["chatMessage"]
    async with orm_thread_held():
        first = asyncio.ensure_future(a.call("readMessage", {"chatHeaderId": ab}))

        async def taken():
            return read_writer.writing and not read_writer._waiting

        await state_until(taken)
        pending = [asyncio.ensure_future(s.call("readMessage", {"chatHeaderId": ab})) for s in (b, c, a2)]

        async def three_waiting():
            return len(read_writer._waiting) >= 3

        await state_until(three_waiting)
    answers = [await first, *(await asyncio.gather(*pending))]
    assert [answer.get("lastReadMessageId", answer.get("code")) for answer in answers] == [
        sent["id"],
        sent["id"],
        "forbidden",  # Carol is no member: her read alone is refused
        sent["id"],
    ]
    assert batch_sizes(batch_log, "read(s)") == [1, 3]


async def test_a_batch_asks_presence_once_for_the_viewers_of_all_its_chats(clients, make_user, batch_log, monkeypatch):
    """Who views each chat (no push for them) is one presence call per batch, not one per message, and
    each message gets its own chat's viewers."""
    from notifications import services as notification_services

    alice, bob, carol = make_user("Alice"), make_user("Bob"), make_user("Carol")
    ab, ac = direct_chat(alice, bob), direct_chat(alice, carol)
    a, a2, b, c = await clients(alice), await clients(alice), await clients(bob), await clients(carol)
    await join(b, ab)  # Bob views ab; Carol does not view ac
    presence = get_state().presence
    asked = []
    original_by_chat, original_one = presence.viewing_by_chat, presence.viewing_user_ids

    async def by_chat(chat_ids):
        asked.append(sorted(chat_ids))
        return await original_by_chat(chat_ids)

    async def one(chat_id):
        asked.append([chat_id])
        return await original_one(chat_id)

    monkeypatch.setattr(presence, "viewing_by_chat", by_chat)
    monkeypatch.setattr(presence, "viewing_user_ids", one)
    viewers = {}

    def record(*, stored, **kwargs):
        viewers.update({message.message: viewing for message, viewing in stored})

    monkeypatch.setattr(notification_services, "messages_created", record)
    async with orm_thread_held():
        first = send(a, ab, "first")
        await in_flight()
        pending = [send(a2, ab, "to bob"), send(b, ab, "from bob"), send(c, ac, "from carol")]
        await queued(3)
    await asyncio.gather(first, *pending)
    assert batch_sizes(batch_log) == [1, 3]
    assert asked == [[ab], sorted([ab, ac])]  # one call per batch
    assert viewers == {
        "first": {str(bob.pk)},
        "to bob": {str(bob.pk)},
        "from bob": {str(bob.pk)},
        "from carol": frozenset(),
    }
