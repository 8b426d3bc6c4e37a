"""Garbage in (CONTRACT §4): every room and list event answers `invalid` to malformed payloads, stores
nothing, announces nothing, and the server keeps serving."""

import pytest

from chat.models import ChatHeader, ChatMember
from chat.sockets.server import sio
from chat.state.store import get_state
from tests.conftest import run_sync
from tests.sockets.rooms_support import direct_chat

pytestmark = pytest.mark.django_db(transaction=True)

NOT_OBJECTS = ["text", 42, 4.2, True, [1, 2], [{"chatHeaderId": 1}]]

BAD = {
    "joinRoom": [
        {},
        {"chatHeaderId": None, "otherUserId": None},
        {"chatHeaderId": "abc"},
        {"chatHeaderId": True},
        {"chatHeaderId": 1.5},
        {"chatHeaderId": {"id": 1}},
        {"chatHeaderId": 0},
        {"chatHeaderId": 2**64},
        {"otherUserId": 12345},
        {"otherUserId": "not-a-guid"},
        {"otherUserId": ["x"]},
        {"chatHeaderId": 1, "userId": 7},
        {"chatHeaderId": 1, "socketId": {"a": 1}},
        {"chatHeaderId": 1, "accessToken": 99},
    ],
    "leaveRoom": [{}, {"chatHeaderId": None}, {"chatHeaderId": "1; DROP TABLE"}, {"chatHeaderId": -3}],
    "roomTyping": [
        {},
        {"isTyping": True, "name": "A"},
        {"isTyping": "true", "name": "A", "chatHeaderId": 1},
        {"isTyping": None, "name": "A", "chatHeaderId": 1},
        {"isTyping": True, "name": None, "chatHeaderId": 1},
        {"isTyping": True, "name": "A", "chatHeaderId": 2**80},
    ],
    "findAllChatHeaders": [
        {"SkipCount": -1},
        {"SkipCount": 10**12},
        {"MaxResultCount": "ten"},
        {"UserId": {"id": "x"}},
        {"RoomsWithLastMessageIds": {"ChatHeaderId": 1}},
        {"RoomsWithLastMessageIds": [None]},
        {"RoomsWithLastMessageIds": [{"ChatHeaderId": 1}] * 1001},
        {"RoomsWithLastMessageIds": [{"ChatHeaderId": 1, "LastMessageId": "x"}]},
    ],
    "getMyFriendships": [{"accessToken": 5}, {"AccessToken": ["t"]}],
    "getMyChats": [{"accessToken": 5}, {"accessToken": {"t": 1}}],
}


@pytest.fixture
async def scene(clients, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    chat_id = direct_chat(alice, bob)
    a, b = await clients(alice), await clients(bob)
    await b.call("joinRoom", {"chatHeaderId": chat_id})
    b.events.clear()
    return a, b, chat_id


def stored() -> tuple[int, int]:
    return run_sync(lambda: (ChatHeader.objects.count(), ChatMember.objects.count()))


@pytest.mark.parametrize("event", sorted(BAD))
async def test_malformed_payloads_are_invalid(scene, event):
    a, b, chat_id = scene
    before = stored()
    viewing = await get_state().presence.viewing_user_ids(chat_id)
    a_rooms = set(sio.rooms(a.sio.get_sid()))
    payloads = BAD[event] + NOT_OBJECTS
    if event in ("joinRoom", "leaveRoom", "roomTyping", "findAllChatHeaders"):
        payloads = [*payloads, None]
    for payload in payloads:
        answer = await a.call(event, payload)
        assert isinstance(answer, dict) and answer.get("code") == "invalid", (payload, answer)
        assert set(answer) == {"error", "code"} and answer["error"]
    assert stored() == before
    assert await get_state().presence.viewing_user_ids(chat_id) == viewing
    assert set(sio.rooms(a.sio.get_sid())) == a_rooms
    await b.barrier()
    assert not any(b.events.values()), dict(b.events)
    # Still healthy: the same socket gets real answers.
    assert (await a.call("joinRoom", {"chatHeaderId": chat_id}))["joined"] is True
    assert (await a.call("getMyChats"))[0]["chatHeaderId"] == chat_id


async def test_without_an_ack_invalid_comes_back_as_exception(scene):
    a, b, _ = scene
    for event in sorted(BAD):
        await a.sio.emit(event, "garbage")
    exceptions = await a.received("exception", len(BAD))
    assert sorted(e["event"] for e in exceptions) == sorted(BAD)
    assert {e["code"] for e in exceptions} == {"invalid"}
    await b.barrier()
    assert not any(b.events.values())
