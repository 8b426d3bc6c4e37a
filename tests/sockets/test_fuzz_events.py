"""Hypothesis-generated payloads for every client event, nested and binary included (CONTRACT §4, §11).

Each packet must be answered with a well-formed acknowledgement (one argument; an error is exactly
`{error, code}` with a documented code and never `server_error`), or, for a broken binary packet,
end with only that socket disconnected. Afterwards the server is healthy and has logged no traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chat.sockets.server import sio
from chat.tokens import issue_token
from tests.sockets._message_helpers import direct_chat
from tests.sockets.raw_socket import RawSocket

ERROR_CODES = {"unauthorized", "forbidden", "not_found", "invalid", "blocked", "rate_limited"}
RESERVED = ["connect", "disconnect", "connect_error", "disconnecting"]
# Field names the events read, so that generated payloads get past the first "missing field" check.
FIELDS = [
    "chatHeaderId",
    "message",
    "messageType",
    "caption",
    "clientMessageId",
    "id",
    "ids",
    "otherUserId",
    "userId",
    "UserId",
    "isTyping",
    "name",
    "lastMessageId",
    "LastMessageId",
    "skipCount",
    "SkipCount",
    "maxResultCount",
    "MaxResultCount",
    "RoomsWithLastMessageIds",
    "accessToken",
    "AccessToken",
]


def client_events() -> list[str]:
    """Every client event of the API: the handlers on the server (no test registers one), less
    python-socketio's own."""
    return sorted(name for name in sio.handlers["/"] if name not in {"connect", "disconnect", "*"})


scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
    | st.sampled_from(["", " ", "0", "1", "-1", str(uuid.uuid4()), "Bearer x", "9" * 30])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
known_field_payloads = st.dictionaries(st.sampled_from(FIELDS), json_values, max_size=6)
deep_payloads = st.integers(min_value=20, max_value=3_000).map(lambda d: '{"a":' * d + "1" + "}" * d)


@st.composite
def packets(draw):
    """(event name, arguments as JSON text, binary attachments)."""
    name = draw(st.sampled_from(client_events()) | st.sampled_from(RESERVED) | st.text(min_size=1, max_size=12))
    kind = draw(st.sampled_from(["known", "any", "deep", "binary", "several"]))
    if kind == "deep":
        return name, draw(deep_payloads), []
    if kind == "binary":
        payload = draw(known_field_payloads)
        field = draw(st.sampled_from(FIELDS))
        payload[field] = {"_placeholder": True, "num": 0}
        return name, json.dumps(payload), [draw(st.binary(max_size=32))]
    if kind == "several":
        args = draw(st.lists(json_values, max_size=3))
        return name, ",".join(json.dumps(a) for a in args), []
    payload = draw(known_field_payloads if kind == "known" else json_values)
    return name, json.dumps(payload), []


def assert_well_formed(ack) -> None:
    assert isinstance(ack, list) and len(ack) == 1, ack
    answer = ack[0]
    if isinstance(answer, dict) and "error" in answer:
        assert set(answer) == {"error", "code"}, answer
        assert isinstance(answer["error"], str) and answer["error"], answer
        assert answer["code"] in ERROR_CODES, answer
    else:
        assert isinstance(answer, (dict, list)), answer


@pytest.fixture
def fuzz(chat_server, make_user):
    """One user, chat and socket for every example of the run, and a loop to drive them.

    Hypothesis runs all examples inside one test call, so this function-scoped fixture (and the
    server and database under it) is shared by them on purpose; a socket that was cut off is
    replaced by a new one.
    """
    loop = asyncio.new_event_loop()
    alice, bob = make_user("Alice"), make_user("Bob")
    state = SimpleNamespace(
        loop=loop,
        url=chat_server.url,
        alice=alice,
        bob=bob,
        chat_id=direct_chat(alice, bob),
        socket=None,
    )

    def socket() -> RawSocket:
        if state.socket is None or state.socket.closed.is_set():
            connecting = RawSocket(chat_server.url).connect(user_id=alice.pk, token=issue_token(alice.pk))
            state.socket = loop.run_until_complete(connecting)
        return state.socket

    state.get_socket = socket
    yield state
    if state.socket is not None:
        loop.run_until_complete(state.socket.close())
    loop.close()


@pytest.mark.django_db(transaction=True)
@settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(packet=packets())
def test_every_event_answers_any_payload(fuzz, caplog, packet):
    name, arguments, attachments = packet
    sock = fuzz.get_socket()
    event_json = f"[{json.dumps(name)}{',' if arguments else ''}{arguments}]"
    caplog.clear()
    caplog.set_level(logging.WARNING)
    try:
        ack = fuzz.loop.run_until_complete(sock.call(event_json, attachments=attachments, timeout=10))
    except TimeoutError:
        # Only a cut-off socket may leave a packet unanswered.
        assert fuzz.loop.run_until_complete(sock.wait_closed(1)), f"no answer to {event_json[:200]!r}"
    else:
        assert_well_formed(ack)
    tracebacks = [r.getMessage() for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not tracebacks, tracebacks

    async def healthy():
        probe = await RawSocket(fuzz.url).connect(user_id=fuzz.bob.pk, token=issue_token(fuzz.bob.pk))
        try:
            return await probe.call_event("findAllMessages", {"chatHeaderId": fuzz.chat_id})
        finally:
            await probe.close()

    # The server stays healthy for everyone else.
    assert fuzz.loop.run_until_complete(healthy())[0]["totalCount"] >= 0
