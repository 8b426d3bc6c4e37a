"""CONTRACT §4 `removeMessage`: own messages only, all or nothing, soft delete, one event per id."""

from __future__ import annotations

import pytest

from chat.models import ChatHeader, ChatMessage
from tests.conftest import barrier, run_sync
from tests.sockets._message_helpers import direct_chat, header, send, stored

pytestmark = pytest.mark.django_db(transaction=True)


async def test_single_id_soft_deletes_and_tells_the_room(scene):
    s = scene
    keep = await send(s.a1, s.chat_id, "keep")
    doomed = await send(s.a1, s.chat_id, "oops")
    ack = await s.a1.call("removeMessage", {"id": doomed["id"], "chatHeaderId": s.chat_id, "accessToken": ""})
    assert ack == {"deletedIds": [doomed["id"]]}
    # One argument, the id (the test client would list several arguments).
    for client in (s.a1, s.b1):
        assert await client.received("messageDeleted", 1) == [doomed["id"]]
    await barrier(s.a2, s.b2, s.c1)
    for client in (s.a2, s.b2, s.c1):
        assert client.events["messageDeleted"] == []
    row = run_sync(ChatMessage.objects.get, pk=doomed["id"])
    assert row.is_deleted and row.deletion_time is not None  # kept for moderators
    assert [m.id for m in stored(s.chat_id, is_deleted=False)] == [keep["id"]]
    # The header falls back to the newest visible message.
    assert header(s.bob, s.chat_id)["lastMessage"]["id"] == keep["id"]


async def test_ids_win_over_id_and_each_is_announced(scene):
    s = scene
    sent = [await send(s.a1, s.chat_id, f"m{i}") for i in range(4)]
    ids = [sent[2]["id"], sent[0]["id"], sent[3]["id"]]
    ack = await s.a1.call("removeMessage", {"ids": [*ids, ids[0]], "id": sent[1]["id"], "chatHeaderId": s.chat_id})
    assert ack == {"deletedIds": ids}
    events = await s.b1.received("messageDeleted", 3)
    assert events == ids
    assert [m.id for m in stored(s.chat_id, is_deleted=False)] == [sent[1]["id"]]
    assert header(s.alice, s.chat_id)["lastMessage"]["id"] == sent[1]["id"]
    # Every message gone: the header has no last message.
    await s.a1.call("removeMessage", {"id": sent[1]["id"], "chatHeaderId": s.chat_id})
    assert header(s.alice, s.chat_id)["lastMessage"] is None
    assert run_sync(ChatHeader.objects.get, pk=s.chat_id).last_message_id is None


async def test_unread_counts_drop_with_deletes(scene):
    s = scene
    sent = [await send(s.a1, s.chat_id, f"m{i}") for i in range(3)]
    assert header(s.bob, s.chat_id)["unreadCount"] == 3
    await s.a1.call("removeMessage", {"ids": [sent[0]["id"], sent[2]["id"]], "chatHeaderId": s.chat_id})
    assert header(s.bob, s.chat_id)["unreadCount"] == 1
    assert header(s.alice, s.chat_id)["unreadCount"] == 0


async def test_one_foreign_id_forbids_the_whole_batch(scene):
    s = scene
    mine = [await send(s.a1, s.chat_id, f"a{i}") for i in range(2)]
    bobs = await send(s.b1, s.chat_id, "bob's")
    elsewhere = await send(s.a1, direct_chat(s.alice, s.carol), "other chat")
    for bad in (bobs["id"], elsewhere["id"], 9_999_999):
        ack = await s.a1.call("removeMessage", {"ids": [mine[0]["id"], bad, mine[1]["id"]], "chatHeaderId": s.chat_id})
        assert ack["code"] == "forbidden"
    stranger = await s.c1.call("removeMessage", {"id": mine[0]["id"], "chatHeaderId": s.chat_id})
    assert stranger["code"] == "forbidden"
    await barrier(s.a1, s.b1)
    assert s.a1.events["messageDeleted"] == [] and s.b1.events["messageDeleted"] == []
    assert run_sync(ChatMessage.objects.filter(is_deleted=True).count) == 0


async def test_more_than_100_ids_is_invalid(scene):
    s = scene
    sent = await send(s.a1, s.chat_id, "x")
    ack = await s.a1.call("removeMessage", {"ids": [sent["id"]] * 101, "chatHeaderId": s.chat_id})
    assert ack["code"] == "invalid" and "ids" in ack["error"]
    ok = await s.a1.call("removeMessage", {"ids": [sent["id"]] * 100, "chatHeaderId": s.chat_id})
    assert ok == {"deletedIds": [sent["id"]]}


async def test_retrying_a_delete_succeeds_without_a_second_announcement(scene):
    s = scene
    sent = await send(s.a1, s.chat_id, "x")
    first = await s.a1.call("removeMessage", {"id": sent["id"], "chatHeaderId": s.chat_id})
    again = await s.a1.call("removeMessage", {"id": sent["id"], "chatHeaderId": s.chat_id})
    assert first == again == {"deletedIds": [sent["id"]]}
    await s.b1.received("messageDeleted", 1)
    await s.b1.barrier()
    assert len(s.b1.events["messageDeleted"]) == 1
