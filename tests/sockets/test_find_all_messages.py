"""CONTRACT §4 `findAllMessages`: newest first, both cursor spellings, skip, clamp, deleted hidden."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from chat.models import ChatMessage, MessageType
from chat.selectors.messages import message_page
from chat.services.chats import chat_direct_get_or_create
from chat.services.messages import message_create
from chat.tokens import issue_token
from tests.conftest import run_sync
from tests.sockets._message_helpers import assert_message_dto, direct_chat, send

pytestmark = pytest.mark.django_db(transaction=True)


def fill(chat_id: int, senders: list, count: int) -> list[int]:
    """`count` messages alternating between `senders`, oldest first, sent through the service; their ids."""

    def make():
        for i in range(count):
            message_create(
                sender=senders[i % len(senders)], chat_id=chat_id, message_type=MessageType.TEXT, text=f"m{i}"
            )
        return list(ChatMessage.objects.filter(chat_id=chat_id).order_by("id").values_list("id", flat=True))

    return run_sync(make)


@pytest.fixture
async def chat(clients, make_user):
    alice, bob, carol = make_user("Alice"), make_user("Bob"), make_user("Carol")
    chat_id = direct_chat(alice, bob)
    a, c = await clients(alice), await clients(carol)
    return SimpleNamespace(alice=alice, bob=bob, chat_id=chat_id, a=a, c=c)


async def test_spec_example_newest_first_with_exact_shape(chat):
    t = chat
    sent = [await send(t.a, t.chat_id, f"m{i}") for i in range(3)]
    page = await t.a.call(
        "findAllMessages",
        {"chatHeaderId": str(t.chat_id), "accessToken": issue_token(t.alice.pk), "skipCount": 0, "maxResultCount": 50},
    )
    assert set(page) == {"items", "totalCount"}
    assert page["totalCount"] == 3
    assert page["items"] == list(reversed(sent))  # the same DTOs the acks carried
    for item in page["items"]:
        assert_message_dto(item)


async def test_paging_by_cursor_and_skip(chat):
    t = chat
    ids = fill(t.chat_id, [t.alice, t.bob], 120)
    newest_first = list(reversed(ids))

    first = await t.a.call("findAllMessages", {"chatHeaderId": t.chat_id})
    assert [m["id"] for m in first["items"]] == newest_first[:50]  # default page of 50
    assert first["totalCount"] == 120

    for key in ("lastMessageId", "LastMessageId"):
        page = await t.a.call("findAllMessages", {"chatHeaderId": t.chat_id, key: first["items"][-1]["id"]})
        assert [m["id"] for m in page["items"]] == newest_first[50:100]
        assert page["totalCount"] == 120  # whatever the cursor

    page = await t.a.call(
        "findAllMessages", {"chatHeaderId": t.chat_id, "lastMessageId": ids[10], "skipCount": 2, "maxResultCount": 5}
    )
    assert [m["id"] for m in page["items"]] == list(reversed(ids[:10]))[2:7]

    skipped = await t.a.call("findAllMessages", {"chatHeaderId": t.chat_id, "skipCount": 115, "maxResultCount": 50})
    assert [m["id"] for m in skipped["items"]] == newest_first[115:]

    capitalised = await t.a.call("findAllMessages", {"chatHeaderId": t.chat_id, "SkipCount": 1, "MaxResultCount": 2})
    assert [m["id"] for m in capitalised["items"]] == newest_first[1:3]


async def test_page_size_is_clamped_not_refused(chat):
    t = chat
    ids = fill(t.chat_id, [t.alice, t.bob], 120)
    page = await t.a.call("findAllMessages", {"chatHeaderId": t.chat_id, "maxResultCount": 1000})
    assert len(page["items"]) == 100 and page["items"][0]["id"] == ids[-1]
    empty = await t.a.call("findAllMessages", {"chatHeaderId": t.chat_id, "maxResultCount": 0})
    assert empty == {"items": [], "totalCount": 120}


async def test_cursor_zero_or_null_means_from_the_newest(chat):
    t = chat
    ids = fill(t.chat_id, [t.alice], 3)
    for cursor in (0, None):
        page = await t.a.call("findAllMessages", {"chatHeaderId": t.chat_id, "lastMessageId": cursor})
        assert [m["id"] for m in page["items"]] == list(reversed(ids))
    below_first = await t.a.call("findAllMessages", {"chatHeaderId": t.chat_id, "lastMessageId": ids[0]})
    assert below_first == {"items": [], "totalCount": 3}


async def test_deleted_messages_never_appear(chat):
    t = chat
    sent = [await send(t.a, t.chat_id, f"m{i}") for i in range(4)]
    removed = await t.a.call("removeMessage", {"ids": [sent[1]["id"], sent[3]["id"]], "chatHeaderId": t.chat_id})
    assert removed == {"deletedIds": [sent[1]["id"], sent[3]["id"]]}
    page = await t.a.call("findAllMessages", {"chatHeaderId": t.chat_id})
    assert [m["id"] for m in page["items"]] == [sent[2]["id"], sent[0]["id"]]
    assert page["totalCount"] == 2
    deep = await t.a.call("findAllMessages", {"chatHeaderId": t.chat_id, "lastMessageId": sent[3]["id"]})
    assert [m["id"] for m in deep["items"]] == [sent[2]["id"], sent[0]["id"]]


async def test_edits_show_in_history(chat):
    t = chat
    sent = await send(t.a, t.chat_id, "tpyo")
    edited = await t.a.call("updateMessage", {"id": sent["id"], "chatHeaderId": t.chat_id, "message": "typo"})
    page = await t.a.call("findAllMessages", {"chatHeaderId": t.chat_id})
    assert page["items"] == [edited]


async def test_only_members_read(chat, make_user):
    t = chat
    fill(t.chat_id, [t.alice], 2)
    answers = [
        await t.c.call("findAllMessages", {"chatHeaderId": t.chat_id}),
        await t.c.call("findAllMessages", {"chatHeaderId": 987_654}),
    ]
    assert answers[0] == answers[1] and answers[0]["code"] == "forbidden"
    empty_chat = direct_chat(t.alice, make_user("Dan"))
    assert await t.a.call("findAllMessages", {"chatHeaderId": empty_chat}) == {"items": [], "totalCount": 0}


# --- the selector directly: a fixed number of queries whatever the page ------------------------------


@pytest.mark.django_db
def test_history_page_runs_a_fixed_number_of_queries(django_assert_max_num_queries, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    chat, _ = chat_direct_get_or_create(user=alice, other=bob)
    ids = fill(chat.pk, [alice, bob], 150)
    for kwargs in ({}, {"limit": 100}, {"before_id": ids[60], "skip": 3, "limit": 20}):
        with django_assert_max_num_queries(3):
            page = message_page(user=alice, chat_id=chat.pk, **kwargs)
        assert page["totalCount"] == 150 and page["items"]
    assert [m["user"]["name"] for m in message_page(user=alice, chat_id=chat.pk, limit=2)["items"]] == ["Bob", "Alice"]
