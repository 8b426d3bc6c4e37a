"""CONTRACT §4 `updateMessage`: author only, not deleted, text rules as create, media keeps its file."""

from __future__ import annotations

import pytest

from chat.models import ChatMessage
from tests.conftest import barrier, run_sync
from tests.sockets._message_helpers import (
    assert_message_dto,
    direct_chat,
    header,
    send,
)

pytestmark = pytest.mark.django_db(transaction=True)


async def test_author_edits_text_and_the_room_hears_it(scene):
    s = scene
    sent = await send(s.a1, s.chat_id, "helo", clientMessageId="k")
    ack = await s.a1.call(
        "updateMessage",
        {"id": sent["id"], "message": "  hello  ", "chatHeaderId": s.chat_id, "accessToken": "", "caption": ""},
    )
    assert_message_dto(ack)
    assert ack["message"] == "hello" and ack["isEdited"] is True
    assert ack["lastModificationTime"] is not None and ack["lastModificationTime"] >= ack["creationTime"]
    changed = {"message", "isEdited", "lastModificationTime", "seq"}  # seq: the edit's place in the change feed
    assert {k: v for k, v in ack.items() if k not in changed} == {k: v for k, v in sent.items() if k not in changed}
    assert ack["seq"] > sent["seq"]
    for client in (s.a1, s.b1):
        assert await client.received("messageUpdated", 1) == [ack]
    await barrier(s.a2, s.b2, s.c1)
    for client in (s.a2, s.b2, s.c1):
        assert client.events["messageUpdated"] == []
    assert header(s.bob, s.chat_id)["lastMessage"] == ack
    row = run_sync(ChatMessage.objects.get, pk=sent["id"])
    assert (row.message, row.is_edited, row.last_modification_time is not None) == ("hello", True, True)


async def test_caption_left_out_is_kept(scene):
    s = scene
    sent = await send(s.a1, s.chat_id, "text", caption="keep me")
    ack = await s.a1.call("updateMessage", {"id": sent["id"], "message": "new", "chatHeaderId": s.chat_id})
    assert (ack["message"], ack["caption"]) == ("new", "keep me")


async def test_media_changes_caption_only(scene, uploaded):
    s = scene
    path = uploaded(s.alice, 4)
    sent = await send(s.a1, s.chat_id, path, messageType=4, caption="old")
    ack = await s.a1.call(
        "updateMessage", {"id": sent["id"], "message": path, "chatHeaderId": s.chat_id, "caption": "Watch this!"}
    )
    assert (ack["message"], ack["caption"], ack["messageType"], ack["isEdited"]) == (path, "Watch this!", 4, True)
    refused = await s.a1.call(
        "updateMessage", {"id": sent["id"], "message": "/uploads/other.mp4", "chatHeaderId": s.chat_id}
    )
    assert refused["code"] == "invalid" and "caption" in refused["error"]
    assert run_sync(ChatMessage.objects.get, pk=sent["id"]).message == path


@pytest.mark.parametrize(
    ("payload", "needle"),
    [({"message": ""}, "message"), ({"message": "  "}, "message"), ({"message": "x" * 21}, "message")],
)
async def test_text_rules_as_create(scene, settings, payload, needle):
    settings.CHAT_MAX_MESSAGE_LENGTH = 20
    s = scene
    sent = await send(s.a1, s.chat_id, "original")
    ack = await s.a1.call("updateMessage", {"id": sent["id"], "chatHeaderId": s.chat_id, **payload})
    assert ack["code"] == "invalid" and needle in ack["error"]
    caption = await s.a1.call(
        "updateMessage", {"id": sent["id"], "chatHeaderId": s.chat_id, "message": "ok", "caption": "c" * 1001}
    )
    assert caption["code"] == "invalid" and "caption" in caption["error"]
    await s.b1.barrier()
    assert s.b1.events["messageUpdated"] == []
    row = run_sync(ChatMessage.objects.get, pk=sent["id"])
    assert (row.message, row.is_edited) == ("original", False)


async def test_forbidden_cases_look_alike_and_change_nothing(scene):
    s = scene
    mine = await send(s.a1, s.chat_id, "alice's")
    elsewhere = direct_chat(s.alice, s.carol)
    in_other_chat = await send(s.a1, elsewhere, "in another chat")
    gone = await send(s.a1, s.chat_id, "deleted")
    assert (await s.a1.call("removeMessage", {"id": gone["id"], "chatHeaderId": s.chat_id}))["deletedIds"]
    attempts = [
        (s.b1, mine["id"], s.chat_id),  # a member, but not the author
        (s.c1, mine["id"], s.chat_id),  # a stranger
        (s.a1, 9_999_999, s.chat_id),  # no such message
        (s.a1, in_other_chat["id"], s.chat_id),  # the author, but named with the wrong chat
        (s.a1, gone["id"], s.chat_id),  # deleted
    ]
    answers = []
    for client, message_id, chat_id in attempts:
        answers.append(
            await client.call("updateMessage", {"id": message_id, "chatHeaderId": chat_id, "message": "hacked"})
        )
    assert all(a["code"] == "forbidden" for a in answers), answers
    assert len({a["error"] for a in answers}) == 1
    await barrier(s.a1, s.b1)
    assert s.a1.events["messageUpdated"] == [] and s.b1.events["messageUpdated"] == []
    assert run_sync(ChatMessage.objects.filter(message="hacked").count) == 0
