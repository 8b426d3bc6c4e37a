"""CONTRACT §4 `createMessage` over a live server: who hears it, every error, retries, rate limit, order."""

from __future__ import annotations

import asyncio

import pytest
from django.db import transaction

from chat.models import ChatHeader
from chat.tokens import issue_token
from tests.conftest import barrier, run_sync
from tests.sockets._message_helpers import (
    assert_message_dto,
    block,
    direct_chat,
    group_chat,
    header,
    join,
    send,
    stored,
)

pytestmark = pytest.mark.django_db(transaction=True)

AUDIO_UPLOAD = "<the path of the audio file Alice uploaded>"


async def test_text_message_reaches_the_room_and_acks_the_dto(scene):
    s = scene
    ack = await s.a1.call(
        "createMessage",
        {"message": "  Hello, world!  ", "chatHeaderId": s.chat_id, "accessToken": "", "messageType": 0, "caption": ""},
    )
    assert set(ack) == {"chatMessage"}
    dto = ack["chatMessage"]
    assert_message_dto(dto)
    assert dto["message"] == "Hello, world!"  # stored trimmed
    assert dto["chatHeaderId"] == s.chat_id and dto["userId"] == str(s.alice.pk)
    assert dto["user"] == {"id": str(s.alice.pk), "name": "Alice", "avatar": None}
    assert dto["isEdited"] is False and dto["lastModificationTime"] is None and dto["clientMessageId"] is None

    # Every socket in the room hears it, the sender's own included, with the ack's exact DTO.
    for client in (s.a1, s.b1):
        assert await client.received("message", 1) == [{"chatMessage": dto}]
    await barrier(s.a2, s.b2, s.c1)
    for client in (s.a2, s.b2, s.c1):  # not in the room, or a stranger
        assert client.events["message"] == []
    assert [m.message for m in stored(s.chat_id)] == ["Hello, world!"]


async def test_spec_example_payload_with_token_and_string_id(scene):
    s = scene
    payload = {
        "message": "Hi",
        "chatHeaderId": str(s.chat_id),
        "accessToken": issue_token(s.bob.pk),
        "messageType": 0,
        "caption": "",
    }
    ack = await s.b2.call("createMessage", payload)
    assert ack["chatMessage"]["userId"] == str(s.bob.pk)
    assert (await s.a1.received("message", 1))[0]["chatMessage"]["id"] == ack["chatMessage"]["id"]


async def test_header_moves_and_unread_counts_follow(scene):
    s = scene
    first = await send(s.a1, s.chat_id, "one")
    second = await send(s.a1, s.chat_id, "two")
    reply = await send(s.b1, s.chat_id, "three")
    bob_view, alice_view = header(s.bob, s.chat_id), header(s.alice, s.chat_id)
    assert bob_view["lastMessage"]["id"] == reply["id"] == alice_view["lastMessage"]["id"]
    assert bob_view["lastMessageTime"] == reply["creationTime"]
    assert bob_view["unreadCount"] == 2  # Alice's two; his own never count
    assert alice_view["unreadCount"] == 1
    chat = run_sync(ChatHeader.objects.get, pk=s.chat_id)
    assert chat.last_message_id == reply["id"] > second["id"] > first["id"]
    assert chat.last_activity_time.isoformat()[:23] == reply["creationTime"][:23].replace("Z", "")


async def test_media_message_with_an_uploaded_path(scene, uploaded):
    s = scene
    path = uploaded(s.alice, 2)
    ack = await s.a1.call(
        "createMessage", {"message": path, "chatHeaderId": s.chat_id, "messageType": 2, "caption": "Look!"}
    )
    dto = ack["chatMessage"]
    assert (dto["message"], dto["messageType"], dto["caption"]) == (path, 2, "Look!")
    assert (await s.b1.received("message", 1))[0]["chatMessage"] == dto


@pytest.mark.parametrize(
    ("message_type", "text"),
    [
        (1, "Hello, world!"),  # the spec's ChatClient.sendMessage: messageType defaults to 1
        (2, "/uploads/chat-messages/images/never-uploaded.webp"),
        (2, AUDIO_UPLOAD),  # uploaded, but as audio
        (4, ""),
    ],
)
async def test_media_type_needs_an_uploaded_path_of_that_type(scene, uploaded, message_type, text):
    s = scene
    audio = uploaded(s.alice, 1)
    text = audio if text is AUDIO_UPLOAD else text
    ack = await s.a1.call("createMessage", {"message": text, "chatHeaderId": s.chat_id, "messageType": message_type})
    assert ack["code"] == "invalid"
    assert "uploaded" in ack["error"] or "uploadFile" in ack["error"]
    assert "messageType 0" in ack["error"]
    await s.b1.barrier()
    assert stored(s.chat_id) == [] and s.b1.events["message"] == []


@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        ({"message": ""}, "message"),
        ({"message": " \n\t "}, "message"),
        ({"message": "x" * 51}, "message"),
        ({"message": "ok", "caption": "c" * 1001}, "caption"),
        ({"message": "ok", "messageType": 5}, "messageType"),
        ({"message": "ok", "messageType": -1}, "messageType"),
        ({"message": "ok", "clientMessageId": "k" * 65}, "clientMessageId"),
    ],
)
async def test_invalid_content(scene, settings, payload, needle):
    settings.CHAT_MAX_MESSAGE_LENGTH = 50
    s = scene
    ack = await s.a1.call("createMessage", {"chatHeaderId": s.chat_id, "messageType": 0, **payload})
    assert ack["code"] == "invalid" and needle in ack["error"]
    await s.b1.barrier()
    assert stored(s.chat_id) == [] and s.b1.events["message"] == []


async def test_length_limit_counts_after_trimming(scene, settings):
    settings.CHAT_MAX_MESSAGE_LENGTH = 50
    s = scene
    assert (await send(s.a1, s.chat_id, "   " + "x" * 50 + "\n"))["message"] == "x" * 50
    ack = await s.a1.call("createMessage", {"chatHeaderId": s.chat_id, "messageType": 0, "message": "y" * 51})
    assert ack["code"] == "invalid"
    ok = await s.a1.call(
        "createMessage", {"chatHeaderId": s.chat_id, "messageType": 0, "message": "ok", "caption": "c" * 1000}
    )
    assert ok["chatMessage"]["caption"] == "c" * 1000


async def test_non_members_and_unknown_chats_are_forbidden_alike(scene):
    s = scene
    answers = [
        await s.c1.call("createMessage", {"chatHeaderId": s.chat_id, "message": "sneak", "messageType": 0}),
        await s.c1.call("createMessage", {"chatHeaderId": 999_999, "message": "sneak", "messageType": 0}),
    ]
    assert answers[0] == answers[1]
    assert answers[0]["code"] == "forbidden"
    await barrier(s.a1, s.b1)
    assert stored(s.chat_id) == [] and s.a1.events["message"] == [] and s.b1.events["message"] == []


@pytest.mark.parametrize("blocker", ["sender", "receiver"])
async def test_blocked_either_way(scene, blocker):
    s = scene
    if blocker == "sender":
        block(s.alice, s.bob)
    else:
        block(s.bob, s.alice)
    ack = await s.a1.call("createMessage", {"chatHeaderId": s.chat_id, "message": "hi", "messageType": 0})
    assert ack["code"] == "blocked"
    ack = await s.b1.call("createMessage", {"chatHeaderId": s.chat_id, "message": "hi", "messageType": 0})
    assert ack["code"] == "blocked"
    await barrier(s.a1, s.b1)
    assert stored(s.chat_id) == [] and s.a1.events["message"] == [] and s.b1.events["message"] == []


async def test_a_block_does_not_silence_a_group(scene):
    s = scene
    group_id = group_chat(s.alice, s.bob, s.carol)  # before the block: nobody is added across one
    block(s.alice, s.bob)
    await join(s.b1, group_id)
    await join(s.c1, group_id)
    dto = await send(s.a1, group_id, "to the group")
    assert (await s.b1.received("message", 1))[0]["chatMessage"] == dto
    assert (await s.c1.received("message", 1))[0]["chatMessage"] == dto
    await barrier(s.a1, s.a2, s.b2)
    assert s.a1.events["message"] == [] and s.a2.events["message"] == [] and s.b2.events["message"] == []
    assert header(s.carol, group_id)["unreadCount"] == 1


async def test_client_message_id_retry_returns_the_original(scene):
    s = scene
    first = await send(s.a1, s.chat_id, "once", clientMessageId="c-1")
    assert first["clientMessageId"] == "c-1"
    retry = await send(s.a1, s.chat_id, "once (retried, even changed)", clientMessageId="c-1")
    assert retry == first
    other_id = await send(s.a1, s.chat_id, "twice", clientMessageId="c-2")
    bobs = await send(s.b1, s.chat_id, "same key, other user", clientMessageId="c-1")
    elsewhere = await send(s.a1, direct_chat(s.alice, s.carol), "same key, other chat", clientMessageId="c-1")
    assert len({first["id"], other_id["id"], bobs["id"], elsewhere["id"]}) == 4
    await s.b1.received("message", 3)
    await s.b1.barrier()
    assert [e["chatMessage"]["id"] for e in s.b1.events["message"]] == [first["id"], other_id["id"], bobs["id"]]
    assert len(stored(s.chat_id)) == 3


async def test_rate_limit(scene, settings):
    settings.CHAT_RATE_LIMIT = "3/60s"
    s = scene
    sent = [await send(s.a1, s.chat_id, f"m{i}", clientMessageId=f"k{i}") for i in range(3)]
    ack = await s.a1.call("createMessage", {"chatHeaderId": s.chat_id, "message": "m3", "messageType": 0})
    assert ack["code"] == "rate_limited"
    # A retry of a stored message is no new message: it is answered, not limited.
    assert await send(s.a1, s.chat_id, "m0", clientMessageId="k0") == sent[0]
    # The limit is per user: Bob still talks.
    await send(s.b1, s.chat_id, "bob is fine")
    await s.b1.received("message", 4)
    await s.b1.barrier()
    assert len(s.b1.events["message"]) == 4
    assert len(stored(s.chat_id)) == 4


async def test_one_senders_burst_arrives_in_order_everywhere(scene, monkeypatch):
    from chat.sockets import message_handlers

    real_event_user = message_handlers.event_user

    async def uneven_event_user(sid, payload):
        # Earlier messages take longer to get through identification: without per-socket ordering
        # later ones would overtake them. The order must not depend on how long each step takes.
        await asyncio.sleep((30 - int(payload["message"][1:])) * 0.002)
        return await real_event_user(sid, payload)

    monkeypatch.setattr(message_handlers, "event_user", uneven_event_user)
    s = scene
    loop = asyncio.get_running_loop()
    acks = [loop.create_future() for _ in range(30)]
    for i in range(30):  # emitted back to back, no waiting for acks in between
        await s.a1.sio.emit(
            "createMessage",
            {"chatHeaderId": s.chat_id, "message": f"n{i}", "messageType": 0},
            callback=lambda ack, fut=acks[i]: fut.set_result(ack),
        )
    answers = await asyncio.wait_for(asyncio.gather(*acks), 10)
    ids = [a["chatMessage"]["id"] for a in answers]
    assert [a["chatMessage"]["message"] for a in answers] == [f"n{i}" for i in range(30)]
    assert ids == sorted(ids) and len(set(ids)) == 30
    for client in (s.a1, s.b1):
        events = await client.received("message", 30)
        assert [e["chatMessage"]["message"] for e in events] == [f"n{i}" for i in range(30)]
        assert [e["chatMessage"]["id"] for e in events] == ids


async def test_push_hook_runs_inside_the_transaction(scene, monkeypatch):
    from notifications import services as notification_services

    calls = []

    def record(*, stored, **kwargs):
        for message, _viewing in stored:
            calls.append((message.pk, message.sender.name, transaction.get_connection().in_atomic_block))

    monkeypatch.setattr(notification_services, "messages_created", record)
    s = scene
    dto = await send(s.a1, s.chat_id, "push me")
    assert calls == [(dto["id"], "Alice", True)]


async def test_no_ack_errors_arrive_as_exception(scene):
    s = scene
    await s.c1.sio.emit("createMessage", {"chatHeaderId": s.chat_id, "message": "x", "messageType": 0})
    (error,) = await s.c1.received("exception", 1)
    assert error["code"] == "forbidden" and error["event"] == "createMessage" and error["error"]


async def test_identity_errors(scene, clients, make_user):
    s = scene
    # A verified socket with another user's token in the payload.
    ack = await s.a1.call(
        "createMessage",
        {"chatHeaderId": s.chat_id, "message": "x", "messageType": 0, "accessToken": issue_token(s.bob.pk)},
    )
    assert ack["code"] == "forbidden"
    # An unverified socket without a token: unauthorized; with its own token it binds and sends.
    tokenless = await clients(s.alice, token=None)
    ack = await tokenless.call("createMessage", {"chatHeaderId": s.chat_id, "message": "x", "messageType": 0})
    assert ack["code"] == "unauthorized"
    ack = await tokenless.call(
        "createMessage",
        {"chatHeaderId": s.chat_id, "message": "bound", "messageType": 0, "accessToken": issue_token(s.alice.pk)},
    )
    assert ack["chatMessage"]["message"] == "bound"
    assert [m.message for m in stored(s.chat_id)] == ["bound"]


async def test_join_room_event_puts_the_socket_where_messages_reach_it(scene):
    """The real joinRoom (the rooms feature) puts a socket where messages reach it."""
    s = scene
    joined = await s.b2.call("joinRoom", {"chatHeaderId": s.chat_id})
    assert joined.get("joined") is True, joined
    dto = await send(s.a1, s.chat_id, "now you see me")
    assert (await s.b2.received("message", 1))[0]["chatMessage"] == dto
