"""CONTRACT §4: every event answers; failures become `{error, code}` acks or `exception` emits."""

import pytest

from chat.errors import Forbidden
from chat.sockets.server import on

pytestmark = pytest.mark.django_db(transaction=True)


@on("testBoom")
async def _boom(sid, payload):
    raise RuntimeError("a bug in a handler")


@on("testForbidden")
async def _forbidden(sid, payload):
    raise Forbidden("Not yours.")


@on("testEcho")
async def _echo(sid, payload):
    return {"echo": payload}


async def test_unexpected_exception_still_gets_a_server_error_ack(clients, make_user, caplog):
    client = await clients(make_user("Alice"))
    with caplog.at_level("ERROR", logger="chat.sockets"):
        ack = await client.call("testBoom", {})
    assert ack == {"error": "Something went wrong on our side.", "code": "server_error"}
    assert any("a bug in a handler" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)
    # The server is still healthy afterwards.
    assert await client.call("testEcho", {"x": 1}) == {"echo": {"x": 1}}


async def test_application_error_becomes_its_code(clients, make_user):
    client = await clients(make_user("Alice"))
    assert await client.call("testForbidden", {}) == {"error": "Not yours.", "code": "forbidden"}


@pytest.mark.parametrize("payload", [None, "text", 42, [1, 2], True])
async def test_non_object_payload_is_invalid(clients, make_user, payload):
    client = await clients(make_user("Alice"))
    ack = await client.call("testEcho", payload)
    assert ack["code"] == "invalid"


async def test_without_ack_the_error_is_emitted_as_exception(clients, make_user):
    client = await clients(make_user("Alice"))
    await client.sio.emit("testBoom", {})
    exc = await client.wait_for("exception")
    assert exc == {"error": "Something went wrong on our side.", "code": "server_error", "event": "testBoom"}
    await client.sio.emit("testForbidden", {})
    exc = await client.wait_for("exception")
    assert exc == {"error": "Not yours.", "code": "forbidden", "event": "testForbidden"}


async def test_successful_event_without_ack_emits_nothing(clients, make_user):
    client = await clients(make_user("Alice"))
    await client.sio.emit("testEcho", {"x": 1})
    await client.settle()
    assert "exception" not in client.events
