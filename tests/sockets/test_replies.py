"""replyToMessageId on createMessage and `replyTo` in MessageDto (CONTRACT §9), through a live server."""

from __future__ import annotations

import pytest

from chat.services.groups import group_member_remove
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


async def test_a_reply_carries_its_original_everywhere(scene):
    s = scene
    original = await send(s.a1, s.chat_id, "x" * 250)
    reply = await send(s.b1, s.chat_id, "yes", replyToMessageId=original["id"])
    assert_message_dto(reply)
    preview = {
        "id": original["id"],
        "userId": str(s.alice.pk),
        "messageType": 0,
        "message": "x" * 200 + "…",  # cut at 200 characters
        "caption": "",
        "isDeleted": False,
    }
    assert reply["replyTo"] == preview
    heard = [m["chatMessage"] for m in await s.a1.received("message", 2)]
    assert heard[-1]["replyTo"] == preview
    page = await s.a1.call("findAllMessages", {"chatHeaderId": s.chat_id})
    assert [m["replyTo"] for m in page["items"]] == [preview, None]
    assert header(s.alice, s.chat_id)["lastMessage"]["replyTo"] == preview
    headers = await s.a1.call(
        "findAllChatHeaders",
        {"RoomsWithLastMessageIds": [{"ChatHeaderId": s.chat_id, "LastMessageId": original["id"]}]},
    )
    assert next(h for h in headers["items"] if h["id"] == s.chat_id)["newMessages"][0]["replyTo"] == preview
    assert stored(s.chat_id)[-1].reply_to_id == original["id"]


async def test_once_the_original_is_deleted_every_read_shows_it_deleted(scene):
    s = scene
    original = await send(s.a1, s.chat_id, "a secret")
    start = (await s.a1.call("sync", {"since": None}))["cursor"]
    reply = await send(s.b1, s.chat_id, "noted", replyToMessageId=original["id"])
    await s.a1.call("removeMessage", {"id": original["id"], "chatHeaderId": s.chat_id})
    gone = {"id": original["id"], "userId": str(s.alice.pk), "messageType": 0, "message": None, "caption": None}
    gone["isDeleted"] = True
    page = await s.b1.call("findAllMessages", {"chatHeaderId": s.chat_id})
    assert [m["replyTo"] for m in page["items"]] == [gone]
    assert header(s.bob, s.chat_id)["lastMessage"]["replyTo"] == gone
    changes = (await s.b2.call("sync", {"since": start}))["changes"]
    assert [c["data"]["replyTo"] for c in changes if c["type"] == "message.created"] == [gone]
    edited = await s.b1.call("updateMessage", {"id": reply["id"], "chatHeaderId": s.chat_id, "message": "ok"})
    assert edited["replyTo"] == gone
    assert "a secret" not in repr([page, changes, edited])


async def test_a_reply_to_a_message_of_another_chat_or_a_deleted_one_is_invalid(scene):
    s = scene
    elsewhere = await send(s.c1, direct_chat(s.carol, s.alice), "in Carol's chat")
    deleted = await send(s.a1, s.chat_id, "soon gone")
    await s.a1.call("removeMessage", {"id": deleted["id"], "chatHeaderId": s.chat_id})
    await barrier(s.b1)
    s.b1.clear()
    answers = [
        await s.a1.call(
            "createMessage", {"chatHeaderId": s.chat_id, "message": "re", "messageType": 0, "replyToMessageId": target}
        )
        for target in (elsewhere["id"], deleted["id"], 987_654)
    ]
    assert [a.get("code") for a in answers] == ["invalid"] * 3, answers
    assert len({a["error"] for a in answers}) == 1  # the same answer: nothing can be probed
    for bad in ("x", 0, -1, True):
        answer = await s.a1.call(
            "createMessage", {"chatHeaderId": s.chat_id, "message": "re", "messageType": 0, "replyToMessageId": bad}
        )
        assert answer["code"] == "invalid" and "replyToMessageId" in answer["error"], answer
    await barrier(s.b1)
    assert s.b1.events["message"] == []
    assert [m.message for m in stored(s.chat_id)] == ["soon gone"]


async def test_a_non_member_a_removed_member_and_a_blocked_user_cannot_reply(scene, make_user, clients):
    s = scene
    original = await send(s.a1, s.chat_id, "hi")
    payload = {"chatHeaderId": s.chat_id, "message": "re", "messageType": 0, "replyToMessageId": original["id"]}
    assert (await s.c1.call("createMessage", payload))["code"] == "forbidden"
    dave = make_user("Dave")
    gid = group_chat(s.alice, dave)
    in_group = await send(s.a1, gid, "group hi")
    run_sync(group_member_remove, actor=s.alice, chat_id=gid, user_id=dave.pk)
    d = await clients(dave)
    group_payload = {**payload, "chatHeaderId": gid, "replyToMessageId": in_group["id"]}
    assert (await d.call("createMessage", group_payload))["code"] == "forbidden"
    block(s.bob, s.alice)
    await barrier(s.a1)
    s.a1.clear()
    assert (await s.b1.call("createMessage", payload))["code"] == "blocked"
    await barrier(s.a1)
    assert s.a1.events["message"] == []
    assert len(stored(s.chat_id)) == 1 and len(stored(gid)) == 1


async def test_a_reply_in_a_group_shows_to_every_member(clients, make_user):
    alice, bob, carol = make_user("Alice"), make_user("Bob"), make_user("Carol")
    gid = group_chat(alice, bob, carol)
    a, c = await clients(alice), await clients(carol)
    await join(c, gid)
    original = await send(a, gid, "who's in?")
    reply = await send(await clients(bob), gid, "me", replyToMessageId=original["id"])
    heard = await c.received("message", 2)
    assert heard[-1]["chatMessage"]["replyTo"]["id"] == original["id"] == reply["replyTo"]["id"]
