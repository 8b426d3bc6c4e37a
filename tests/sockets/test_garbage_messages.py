"""CONTRACT §4: garbage to every message event is `invalid` (never `server_error`), stores and
announces nothing, and leaves the server healthy."""

from __future__ import annotations

import pytest

from chat.models import ChatMember, ChatMessage
from tests.conftest import barrier, run_sync
from tests.sockets._message_helpers import make_scene, send

pytestmark = pytest.mark.django_db(transaction=True)

NOT_AN_OBJECT = ["text", 42, 3.5, True, [1, 2], [{"chatHeaderId": 1}]]

# Values that are the wrong type (or out of range) for every field of that kind.
BAD_ID = [None, True, False, 1.5, "abc", "", [], {}, [1], {"id": 1}, -1, 0, 10**30, "1" * 2000]
BAD_TEXT = [None, True, 12, 1.5, [], {}, ["hi"], {"text": "hi"}, "\ud800 lone surrogate", "nul \x00 byte"]
BAD_OPTIONAL_TEXT = [True, 12, 1.5, [], {}, ["x"], "\udfff"]
BAD_COUNT = [True, 1.5, "abc", [], {}, -1, 10**30]
BAD_IDS = ["1,2", 5, True, {}, [True], ["x"], [1.5], [None], [[1]], [-3], [10**30]]
BAD_TOKEN = [123, True, [], {}]


def cases(base: dict, required: dict, optional: dict):
    """(label, payload) pairs: every required field left out, every field given each bad value."""
    for field in required:
        yield f"missing {field}", {k: v for k, v in base.items() if k != field}
    for field, bad_values in {**required, **optional}.items():
        for value in bad_values:
            yield f"{field}={value!r:.40}", {**base, field: value}


def event_cases(event: str, chat_id: int, message_id: int):
    if event == "createMessage":
        base = {"chatHeaderId": chat_id, "message": "hi", "messageType": 0}
        required = {"chatHeaderId": BAD_ID, "message": BAD_TEXT, "messageType": [*BAD_COUNT, None, 5, 99]}
        optional = {"caption": BAD_OPTIONAL_TEXT, "clientMessageId": BAD_OPTIONAL_TEXT, "accessToken": BAD_TOKEN}
    elif event == "findAllMessages":
        base = {"chatHeaderId": str(chat_id)}
        required = {"chatHeaderId": BAD_ID}
        optional = {
            name: BAD_COUNT for name in ("lastMessageId", "LastMessageId", "skipCount", "maxResultCount", "SkipCount")
        }
        optional["AccessToken"] = BAD_TOKEN
    elif event == "updateMessage":
        base = {"id": message_id, "chatHeaderId": chat_id, "message": "edited"}
        required = {"id": BAD_ID, "chatHeaderId": BAD_ID, "message": BAD_TEXT}
        optional = {"caption": BAD_OPTIONAL_TEXT, "accessToken": BAD_TOKEN}
    elif event == "removeMessage":
        base = {"id": message_id, "chatHeaderId": chat_id}
        required = {"chatHeaderId": BAD_ID}
        optional = {"ids": BAD_IDS, "id": [v for v in BAD_ID if v is not None], "accessToken": BAD_TOKEN}
        yield "neither id nor ids", {"chatHeaderId": chat_id}
        yield "ids empty and no id", {"chatHeaderId": chat_id, "ids": []}
        yield "ids too long", {"chatHeaderId": chat_id, "ids": list(range(1, 102))}
    elif event == "readMessage":
        base = {"chatHeaderId": chat_id}
        required = {"chatHeaderId": BAD_ID}
        optional = {"accessToken": BAD_TOKEN}
    else:  # pragma: no cover
        raise AssertionError(event)
    yield from cases(base, required, optional)


EVENTS = ["createMessage", "findAllMessages", "updateMessage", "removeMessage", "readMessage"]


def snapshot(chat_id: int):
    rows = ChatMessage.objects.filter(chat_id=chat_id).order_by("id")
    messages = list(rows.values_list("id", "message", "caption", "is_edited", "is_deleted"))
    marks = list(ChatMember.objects.filter(chat_id=chat_id).order_by("id").values_list("last_read_message_id"))
    return messages, marks


@pytest.mark.parametrize("event", EVENTS)
async def test_garbage_is_invalid_and_harmless(clients, make_user, event):
    s = await make_scene(clients, make_user)
    original = await send(s.a1, s.chat_id, "original")
    before = run_sync(snapshot, s.chat_id)

    failures = []
    answer = await s.a1.call(event)  # no payload at all
    if answer.get("code") != "invalid":
        failures.append(("no payload", answer))
    for payload in NOT_AN_OBJECT:
        answer = await s.a1.call(event, payload)
        if answer.get("code") != "invalid":
            failures.append((repr(payload), answer))
    for label, payload in event_cases(event, s.chat_id, original["id"]):
        answer = await s.a1.call(event, payload)
        if not isinstance(answer, dict) or answer.get("code") != "invalid" or not answer.get("error"):
            failures.append((label, answer))
    assert failures == []

    await barrier(s.a1, s.b1)
    assert run_sync(snapshot, s.chat_id) == before
    for client in (s.a1, s.b1):
        # Only the one real message was ever announced.
        assert [e["chatMessage"]["id"] for e in client.events["message"]] == [original["id"]]
        for name in ("messageUpdated", "messageDeleted", "messageHasBeenRead", "exception"):
            assert client.events[name] == []

    # Still healthy: the same socket is answered normally.
    page = await s.a1.call("findAllMessages", {"chatHeaderId": s.chat_id})
    assert [m["id"] for m in page["items"]] == [original["id"]]
    assert (await send(s.a1, s.chat_id, "still here"))["message"] == "still here"
