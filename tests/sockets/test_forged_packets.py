"""Forged and broken packets (CONTRACT §11): reserved event names, payloads nested too deep, broken
binary packets. Each is answered `invalid` or cuts off only its own socket, and none logs a traceback.

Sent with RawSocket, which writes the wire protocol by hand: client libraries refuse to send these.
"""

from __future__ import annotations

import json
import logging

import pytest
import socketio

from chat.sockets.server import MAX_PAYLOAD_DEPTH, ChatSocketServer
from chat.state.store import get_state
from chat.tokens import issue_token
from tests.sockets._message_helpers import direct_chat, send
from tests.sockets.raw_socket import RawSocket


@pytest.fixture
async def raw(chat_server):
    made: list[RawSocket] = []

    async def factory(user) -> RawSocket:
        sock = await RawSocket(chat_server.url).connect(user_id=user.pk, token=issue_token(user.pk))
        made.append(sock)
        return sock

    yield factory
    for sock in made:
        await sock.close()


@pytest.fixture
def no_tracebacks(caplog):
    caplog.set_level(logging.WARNING)
    yield caplog
    tracebacks = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not tracebacks, [r.getMessage() for r in tracebacks]


def nested(depth: int) -> str:
    """A JSON object nested `depth` levels deep (the object itself is level 1)."""
    return '{"a":' * (depth - 1) + "{}" + "}" * (depth - 1)


def assert_invalid(ack: list) -> str:
    assert len(ack) == 1 and set(ack[0]) == {"error", "code"}, ack
    assert ack[0]["code"] == "invalid", ack
    return ack[0]["error"]


async def test_python_socketio_still_has_the_hooks_we_use():
    """ChatSocketServer overrides two underscore methods python-socketio offers no public hook for;
    this pins them to the installed version so that an upgrade that renames them fails here."""
    for name in ("_handle_event_internal", "_handle_eio_message"):
        assert name in vars(socketio.AsyncServer), name
        assert name in vars(ChatSocketServer), name
    assert isinstance(socketio.AsyncServer()._binary_packet, dict)


async def test_a_client_event_named_disconnect_takes_nobody_offline(clients, raw, make_user, no_tracebacks):
    alice, bob = make_user("Alice"), make_user("Bob")
    chat_id = direct_chat(alice, bob)
    watcher = await clients(bob)
    attacker = await raw(alice)
    assert (await attacker.call_event("joinRoom", {"chatHeaderId": chat_id}))[0]["joined"] is True
    assert await get_state().presence.viewing_user_ids(chat_id) == {str(alice.pk)}

    for name in ("disconnect", "disconnecting"):
        message = assert_invalid(await attacker.call_event(name, "client namespace disconnect"))
        assert "reserved" in message

    await watcher.barrier()
    assert not [s for s in watcher.events["clientStatus"] if s["activeNow"] is False]
    assert await get_state().presence.user_sids(str(alice.pk)) == {attacker.sid}
    assert await get_state().presence.viewing_user_ids(chat_id) == {str(alice.pk)}, "viewing state must survive"
    assert not attacker.closed.is_set()
    # The socket still works as itself.
    ack = await attacker.call_event(
        "createMessage", {"chatHeaderId": chat_id, "message": "still here", "messageType": 0}
    )
    assert ack[0]["chatMessage"]["message"] == "still here"


async def test_a_client_event_named_connect_cannot_rebind_the_socket(clients, raw, make_user, no_tracebacks):
    alice, mallory = make_user("Alice"), make_user("Mallory")
    chat_id = direct_chat(alice, make_user("Bob"))
    attacker = await raw(alice)
    forged = {"QUERY_STRING": f"userId={mallory.pk}", "HTTP_AUTHORIZATION": issue_token(mallory.pk)}
    for name in ("connect", "connect_error"):
        assert "reserved" in assert_invalid(await attacker.call_event(name, forged, {"accessToken": "x"}))
    assert await get_state().presence.user_sids(str(alice.pk)) == {attacker.sid}
    assert await get_state().presence.user_sids(str(mallory.pk)) == set()
    ack = await attacker.call_event("createMessage", {"chatHeaderId": chat_id, "message": "me", "messageType": 0})
    assert ack[0]["chatMessage"]["userId"] == str(alice.pk)

    await attacker.close()
    await clients(mallory)  # any round trip: the server has handled the disconnect by now
    assert await get_state().presence.user_sids(str(alice.pk)) == set(), "no presence entry may be left behind"


async def test_a_second_connect_packet_does_not_take_the_socket_over(raw, make_user, no_tracebacks):
    alice, mallory = make_user("Alice"), make_user("Mallory")
    attacker = await raw(alice)
    await attacker.send("40" + json.dumps({"accessToken": issue_token(mallory.pk)}))
    ack = await attacker.call_event("getMyChats")
    assert ack == [[]]
    assert await get_state().presence.user_sids(str(mallory.pk)) == set()
    assert await get_state().presence.user_sids(str(alice.pk)) == {attacker.sid}


async def test_an_unknown_event_is_answered(raw, make_user, no_tracebacks):
    attacker = await raw(make_user("Alice"))
    assert "Unknown event" in assert_invalid(await attacker.call_event("noSuchEvent", {}))


@pytest.mark.parametrize("depth", [MAX_PAYLOAD_DEPTH + 1, 100, 1_500, 5_000])
async def test_a_payload_nested_too_deep_is_invalid(raw, make_user, no_tracebacks, depth):
    attacker = await raw(make_user("Alice"))
    for event in ("createMessage", "getMyChats", "noSuchEvent"):
        message = assert_invalid(await attacker.call(f'["{event}",{nested(depth)}]'))
        if event != "noSuchEvent":
            assert f"deeper than {MAX_PAYLOAD_DEPTH}" in message
    # A deep list inside a shallow payload counts the same.
    deep_list = "[" * depth + "]" * depth
    message = assert_invalid(await attacker.call(f'["createMessage",{{"chatHeaderId":{deep_list}}}]'))
    assert f"deeper than {MAX_PAYLOAD_DEPTH}" in message
    assert not attacker.closed.is_set()


async def test_a_payload_at_the_depth_limit_is_checked_as_usual(raw, make_user, no_tracebacks):
    attacker = await raw(make_user("Alice"))
    message = assert_invalid(await attacker.call(f'["createMessage",{nested(MAX_PAYLOAD_DEPTH)}]'))
    assert "deeper" not in message


@pytest.mark.parametrize(
    "packets",
    [
        # A placeholder announced, then a text packet where its attachment was due.
        ['451-["createMessage",{"_placeholder":true,"num":0}]', '422["getMyChats"]'],
        # The attachment arrives, but the placeholder points past it.
        ['451-["createMessage",{"_placeholder":true,"num":5}]', b"\x00\x01"],
        # More attachments than any event of ours could use.
        ['4599-["createMessage",{"_placeholder":true,"num":0}]'],
        # A binary packet that announces no attachment at all.
        ['450-["createMessage",{}]'],
        # Not JSON at all, and an event without a name.
        ['42["createMessage",{'],
        ["42[]"],
        ["42[5,{}]"],
    ],
    ids=["text-for-attachment", "bad-placeholder", "too-many", "none-announced", "broken-json", "no-name", "num-name"],
)
async def test_a_broken_packet_disconnects_only_its_socket(clients, raw, make_user, no_tracebacks, packets):
    alice, bob = make_user("Alice"), make_user("Bob")
    chat_id = direct_chat(alice, bob)
    bystander = await clients(bob)
    attacker = await raw(alice)
    for packet in packets:
        await attacker.send(packet)
    assert await attacker.wait_closed(), "a deaf socket must not stay connected"
    # The server is healthy and everyone else goes on.
    await send(bystander, chat_id, "unaffected")
    again = await raw(alice)
    assert (await again.call_event("getMyChats"))[0][0]["chatHeaderId"] == chat_id


async def test_a_well_formed_binary_packet_is_answered(raw, make_user, no_tracebacks):
    """Our events take no binary arguments, but a client library may send one: it is answered, not cut off."""
    attacker = await raw(make_user("Alice"))
    packet = '["createMessage",{"chatHeaderId":{"_placeholder":true,"num":0},"message":"x","messageType":0}]'
    message = assert_invalid(await attacker.call(packet, attachments=[b"\x00\x01"]))
    assert "chatHeaderId" in message
    assert await attacker.call_event("getMyChats") == [[]]
    assert not attacker.closed.is_set()
