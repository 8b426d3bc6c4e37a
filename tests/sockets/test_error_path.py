"""CONTRACT §4: every event answers; failures become `{error, code}` acks or `exception` emits.

Through the API's own events and failures a client can meet: a chat that is not the caller's, a payload
that is no object, and a database that fails for real (its table renamed away for a moment), which is
the unexpected exception that the server logs and answers `server_error`.
"""

import contextlib

import pytest
from django.db import connection

from chat.models import ChatMessage
from tests.conftest import run_sync
from tests.sockets._message_helpers import direct_chat

pytestmark = pytest.mark.django_db(transaction=True)

SERVER_ERROR = {"error": "Something went wrong on our side.", "code": "server_error"}
FORBIDDEN = {"error": "You are not a member of this chat.", "code": "forbidden"}


@contextlib.contextmanager
def messages_table_gone():
    """Every query of the messages table fails in the server, as a broken database would, until the end
    of the block (the table is renamed away, then back)."""
    table = ChatMessage._meta.db_table

    def rename(old: str, new: str) -> None:
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {connection.ops.quote_name(old)} RENAME TO {connection.ops.quote_name(new)}")

    run_sync(rename, table, f"{table}_away")
    try:
        yield
    finally:
        run_sync(rename, f"{table}_away", table)


@pytest.fixture
def chats(make_user):
    """Alice's one-to-one chat with Bob, and one of Bob's with Carol that is not hers."""
    alice, bob, carol = make_user("Alice"), make_user("Bob"), make_user("Carol")
    return alice, direct_chat(alice, bob), direct_chat(bob, carol)


async def test_unexpected_exception_still_gets_a_server_error_ack(clients, chats, caplog):
    alice, own, _ = chats
    client = await clients(alice)
    with caplog.at_level("ERROR", logger="chat.sockets"), messages_table_gone():
        ack = await client.call("findAllMessages", {"chatHeaderId": own})
    assert ack == SERVER_ERROR
    logged = [r for r in caplog.records if r.exc_info and r.getMessage() == "event findAllMessages failed"]
    assert logged and ChatMessage._meta.db_table in str(logged[0].exc_info[1])  # with its traceback
    # The server is still healthy afterwards.
    assert await client.call("findAllMessages", {"chatHeaderId": own}) == {"items": [], "totalCount": 0}


async def test_application_error_becomes_its_code(clients, chats):
    alice, _, foreign = chats
    client = await clients(alice)
    assert await client.call("findAllMessages", {"chatHeaderId": foreign}) == FORBIDDEN


@pytest.mark.parametrize("payload", [None, "text", 42, [1, 2], True])
async def test_non_object_payload_is_invalid(clients, chats, payload):
    alice, _, _ = chats
    client = await clients(alice)
    ack = await client.call("findAllMessages", payload)
    assert ack == {"error": "The event payload must be an object.", "code": "invalid"}


async def test_without_ack_the_error_is_emitted_as_exception(clients, chats):
    alice, own, foreign = chats
    client = await clients(alice)
    with messages_table_gone():
        await client.sio.emit("findAllMessages", {"chatHeaderId": own})
        exc = await client.wait_for("exception")
    assert exc == {**SERVER_ERROR, "event": "findAllMessages"}
    await client.sio.emit("findAllMessages", {"chatHeaderId": foreign})
    exc = await client.wait_for("exception")
    assert exc == {**FORBIDDEN, "event": "findAllMessages"}


async def test_successful_event_without_ack_emits_nothing(clients, chats):
    alice, own, _ = chats
    client = await clients(alice)
    await client.sio.emit("findAllMessages", {"chatHeaderId": own})
    # Answered once the event before it has done its database work (one ORM thread, in arrival order);
    # then anything that event emitted has arrived once the barrier has.
    assert len(await client.call("getMyChats")) == 1
    await client.barrier()
    assert "exception" not in client.events
