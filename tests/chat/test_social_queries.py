"""Query counts of the social features (CONTRACT §9): a history page with reactions and replies costs
the same queries for 1 message as for 50, and a batch of replies resolves its originals in one query."""

from __future__ import annotations

import pytest

from chat.models import ChatMessage, Reaction
from chat.selectors.messages import message_page
from chat.services.chats import chat_direct_get_or_create
from chat.services.messages import NewMessage, message_create_many

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    chat, _ = chat_direct_get_or_create(user=alice, other=bob)
    return alice, bob, chat.pk


def text(sender, chat_id, body="hi", **kwargs) -> NewMessage:
    return NewMessage(sender=sender, chat_id=chat_id, message_type=0, text=body, **kwargs)


@pytest.mark.parametrize("n", [1, 50])
def test_a_history_page_with_reactions_and_replies_is_three_queries(pair, django_assert_max_num_queries, n):
    alice, bob, chat_id = pair
    (first, _), *_ = message_create_many([text(alice, chat_id, "first")])
    results = message_create_many(
        [text(bob if i % 2 else alice, chat_id, f"m{i}", reply_to_id=first.pk) for i in range(n)]
    )
    messages = [first] + [message for message, _ in results]
    Reaction.objects.bulk_create(
        Reaction(message=message, user=user, emoji=emoji)
        for message in messages
        for user in (alice, bob)
        for emoji in ("👍", "🎉")
    )
    with django_assert_max_num_queries(3):  # membership + count, the page with replies joined, reactions
        page = message_page(user=alice, chat_id=chat_id, limit=n + 1)
    assert len(page["items"]) == n + 1
    assert all(m["reactions"] and m["reactions"][0]["count"] == 2 for m in page["items"])
    assert [m["replyTo"] is not None for m in page["items"]] == [True] * n + [False]


@pytest.mark.parametrize("size", [1, 20])
def test_a_batch_of_replies_finds_its_originals_in_one_query(pair, django_assert_max_num_queries, size):
    alice, bob, chat_id = pair
    originals = [message for message, _ in message_create_many([text(alice, chat_id, f"o{i}") for i in range(size)])]
    # One more query than a batch without replies (tests/chat/test_message_batch.py: 10).
    with django_assert_max_num_queries(11) as captured:
        results = message_create_many([text(bob, chat_id, "re", reply_to_id=o.pk) for o in originals])
    selects = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("SELECT")]
    assert sum('"chat_chatmessage"' in sql.split(" WHERE ")[0] for sql in selects) == 1
    assert [message.reply_to_id for message, _ in results] == [o.pk for o in originals]
    assert ChatMessage.objects.filter(reply_to__isnull=False).count() == size
