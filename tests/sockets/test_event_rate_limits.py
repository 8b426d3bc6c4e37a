"""CONTRACT §11: the per-event rate limits of the message and room events, over a live server.

Edits and deletes share one budget ("edit"), `roomTyping` has its own ("typing"), `readMessage` its
own ("read"), and only the calls that create a chat count as new chats ("newChat"). A refused call
is `rate_limited`, changes nothing and announces nothing. (tests/conftest.py turns every budget off;
each test turns its own back on.)
"""

from __future__ import annotations

import pytest

from chat.models import ChatHeader, ChatMember, ChatMessage
from tests.conftest import run_sync
from tests.sockets._message_helpers import send
from tests.sockets.rooms_support import direct_chat, group_chat

pytestmark = pytest.mark.django_db(transaction=True)


def edit(chat_id: int, message_id: int, text: str) -> dict:
    return {"chatHeaderId": chat_id, "id": message_id, "message": text}


async def test_the_fourth_edit_is_refused_and_not_broadcast(scene, settings):
    settings.CHAT_RATE_LIMIT_EDITS = "3/10s"
    s = scene
    sent = await send(s.a1, s.chat_id, "v0")
    for i in range(1, 4):
        assert (await s.a1.call("updateMessage", edit(s.chat_id, sent["id"], f"v{i}")))["message"] == f"v{i}"
    refused = await s.a1.call("updateMessage", edit(s.chat_id, sent["id"], "v4"))
    assert refused["code"] == "rate_limited", refused
    await s.b1.received("messageUpdated", 3)
    await s.b1.barrier()
    assert [e["message"] for e in s.b1.events["messageUpdated"]] == ["v1", "v2", "v3"]
    assert run_sync(lambda: ChatMessage.objects.get(pk=sent["id"]).message) == "v3"
    # The budget is the user's: Bob edits freely.
    bobs = await send(s.b1, s.chat_id, "bob")
    assert (await s.b1.call("updateMessage", edit(s.chat_id, bobs["id"], "bob!")))["isEdited"] is True


async def test_deletes_share_the_edit_budget(scene, settings):
    settings.CHAT_RATE_LIMIT_EDITS = "3/10s"
    s = scene
    sent = [await send(s.a1, s.chat_id, f"m{i}") for i in range(3)]
    await s.a1.call("updateMessage", edit(s.chat_id, sent[0]["id"], "edited"))
    await s.a1.call("removeMessage", {"chatHeaderId": s.chat_id, "id": sent[1]["id"]})
    # One call with several ids counts once.
    ack = await s.a1.call("removeMessage", {"chatHeaderId": s.chat_id, "ids": [sent[1]["id"], sent[0]["id"]]})
    assert ack == {"deletedIds": [sent[1]["id"], sent[0]["id"]]}
    refused = await s.a1.call("removeMessage", {"chatHeaderId": s.chat_id, "id": sent[2]["id"]})
    assert refused["code"] == "rate_limited"
    refused = await s.a1.call("updateMessage", edit(s.chat_id, sent[2]["id"], "no"))
    assert refused["code"] == "rate_limited"
    await s.b1.received("messageDeleted", 2)
    await s.b1.barrier()
    assert s.b1.events["messageDeleted"] == [sent[1]["id"], sent[0]["id"]]
    assert run_sync(lambda: ChatMessage.objects.get(pk=sent[2]["id"]).is_deleted) is False


async def test_typing_flood_makes_at_most_the_budget_of_typing_events(clients, make_user, settings):
    settings.CHAT_RATE_LIMIT_TYPING = "20/10s"
    alice, bob = make_user("Alice"), make_user("Bob")
    chat_id = direct_chat(alice, bob)
    a, b = await clients(alice), await clients(bob)
    await b.call("joinRoom", {"chatHeaderId": chat_id})
    for _ in range(499):
        await a.sio.emit("roomTyping", {"chatHeaderId": chat_id, "isTyping": True, "name": "A"})
    last = await a.call("roomTyping", {"chatHeaderId": chat_id, "isTyping": True, "name": "A"}, timeout=30)
    assert last["code"] == "rate_limited"  # roomTyping is ordered: the 500th ran after the 499 others
    await b.barrier()
    assert len(b.events["typing"]) == 20
    # Refusals without an ack came back as `exception`, to the typist only.
    assert len(a.events["exception"]) == 479 and {e["code"] for e in a.events["exception"]} == {"rate_limited"}
    # The stop of an announced typing still goes through, so "typing…" is not left on Bob's screen.
    stop = await a.call("roomTyping", {"chatHeaderId": chat_id, "isTyping": False, "name": "A"})
    assert stop["isTyping"] is False
    assert (await b.received("typing", 21))[-1]["isTyping"] is False
    # A second stop has nothing left to end: it counts, and is refused.
    again = await a.call("roomTyping", {"chatHeaderId": chat_id, "isTyping": False, "name": "A"})
    assert again["code"] == "rate_limited"


async def test_reads_are_limited_and_a_refused_read_moves_nothing(scene, settings):
    settings.CHAT_RATE_LIMIT_READS = "2/10s"
    s = scene
    first = await send(s.a1, s.chat_id, "one")
    for _ in range(2):
        assert (await s.b1.call("readMessage", {"chatHeaderId": s.chat_id}))["lastReadMessageId"] == first["id"]
    await send(s.a1, s.chat_id, "two")
    refused = await s.b1.call("readMessage", {"chatHeaderId": s.chat_id})
    assert refused["code"] == "rate_limited"
    mark = run_sync(lambda: ChatMember.objects.get(chat_id=s.chat_id, user=s.bob).last_read_message_id)
    assert mark == first["id"]
    await s.a1.received("messageRead", 2)
    await s.a1.barrier()
    assert len(s.a1.events["messageHasBeenRead"]) == 2 and len(s.a1.events["messageRead"]) == 2


async def test_only_joins_that_create_a_chat_count_as_new_chats(clients, make_user, settings):
    settings.CHAT_RATE_LIMIT_NEW_CHATS = "2/1min"
    alice = make_user("Alice")
    others = [make_user(f"Friend {i}") for i in range(3)]
    existing = direct_chat(others[2], alice)
    group_id = group_chat(others[0], alice)
    a = await clients(alice)
    for other in others[:2]:
        assert (await a.call("joinRoom", {"otherUserId": str(other.pk)}))["joined"] is True
    # Joining chats that exist costs nothing, by either id.
    assert (await a.call("joinRoom", {"otherUserId": str(others[2].pk)}))["chatHeaderId"] == existing
    assert (await a.call("joinRoom", {"otherUserId": str(others[0].pk)}))["joined"] is True
    assert (await a.call("joinRoom", {"chatHeaderId": group_id}))["joined"] is True
    # A third new chat is refused and creates nothing.
    newcomer = make_user("Newcomer")
    before = run_sync(ChatHeader.objects.count)
    refused = await a.call("joinRoom", {"otherUserId": str(newcomer.pk)})
    assert refused["code"] == "rate_limited", refused
    assert run_sync(ChatHeader.objects.count) == before
    # The newcomer may still start it: the budget is the caller's.
    n = await clients(newcomer)
    assert (await n.call("joinRoom", {"otherUserId": str(alice.pk)}))["joined"] is True
