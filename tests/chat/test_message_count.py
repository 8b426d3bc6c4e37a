"""ChatHeader.message_count, behind findAllMessages' totalCount, follows every way a message appears
or disappears."""

import pytest

from chat.models import ChatHeader, ChatMessage
from chat.selectors.messages import message_page
from chat.services.chats import chat_direct_get_or_create, chat_message_counts_refresh
from chat.services.messages import message_create, message_remove
from chat.services.moderation import messages_moderate_delete, messages_moderate_restore, messages_purge_deleted

pytestmark = pytest.mark.django_db


def kept_count(chat) -> int:
    return ChatHeader.objects.get(pk=chat.pk).message_count


def true_count(chat) -> int:
    return ChatMessage.objects.filter(chat=chat, is_deleted=False).count()


def test_count_follows_sends_deletes_moderation_and_purges(make_user):
    from datetime import timedelta

    alice, bob = make_user("Alice"), make_user("Bob")
    chat, _ = chat_direct_get_or_create(user=alice, other=bob)
    ids = [message_create(sender=alice, chat_id=chat.pk, message_type=0, text=f"m{i}")[0].pk for i in range(6)]
    message_create(sender=alice, chat_id=chat.pk, message_type=0, text="retry", client_message_id="x")
    message_create(sender=alice, chat_id=chat.pk, message_type=0, text="retry", client_message_id="x")  # no new row
    assert kept_count(chat) == true_count(chat) == 7

    message_remove(user=alice, chat_id=chat.pk, message_ids=ids[:2])
    message_remove(user=alice, chat_id=chat.pk, message_ids=ids[:2])  # a retry hides nothing more
    assert kept_count(chat) == true_count(chat) == 5

    messages_moderate_delete(message_ids=[ids[2], ids[3]])
    assert kept_count(chat) == true_count(chat) == 3
    messages_moderate_restore(message_ids=[ids[0], ids[3]])
    assert kept_count(chat) == true_count(chat) == 5
    messages_purge_deleted(older_than=timedelta(days=-1))  # deleted ones were not counted anyway
    assert kept_count(chat) == true_count(chat) == 5
    assert message_page(user=bob, chat_id=chat.pk)["totalCount"] == 5


def test_refresh_recounts_rows_written_around_the_services(make_user):
    # Rows written straight into the table on purpose: the refresh exists for them (an import, a
    # repair by hand), and no service leaves a count stale.
    alice, bob = make_user("Alice"), make_user("Bob")
    chat, _ = chat_direct_get_or_create(user=alice, other=bob)
    ChatMessage.objects.bulk_create([ChatMessage(chat=chat, sender=alice, message=str(i)) for i in range(4)])
    ChatMessage.objects.create(chat=chat, sender=alice, message="gone", is_deleted=True)
    assert kept_count(chat) == 0
    assert chat_message_counts_refresh(chat_ids=[chat.pk]) == 1
    header = ChatHeader.objects.get(pk=chat.pk)
    assert header.message_count == 4
    assert header.last_message_id == ChatMessage.objects.filter(chat=chat, is_deleted=False).latest("id").pk
