"""CONTRACT §8 maintenance commands: purge_deleted_messages, reset_viewing_state."""

import io
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.core.management import CommandError, call_command
from django.utils import timezone

from chat.models import ChatMember, ChatMessage, MessageType
from chat.selectors.chats import chat_header_dto_for
from chat.services.chats import chat_direct_get_or_create
from chat.services.messages import chat_mark_read, message_create, message_remove
from chat.state.store import get_state

pytestmark = pytest.mark.django_db


def run(name, *args) -> str:
    out = io.StringIO()
    call_command(name, *args, stdout=out)
    return out.getvalue().strip()


@pytest.fixture
def chat_with_history(make_user):
    """Alice's messages "old" (which Bob read) and "recent", both deleted since, and "kept"."""
    alice, bob = make_user("Alice"), make_user("Bob")
    chat, _ = chat_direct_get_or_create(user=alice, other=bob)

    def sent(text):
        return message_create(sender=alice, chat_id=chat.pk, message_type=MessageType.TEXT, text=text)[0]

    old = sent("old")
    chat_mark_read(user=bob, chat_id=chat.pk)
    recent, kept = sent("recent"), sent("kept")
    message_remove(user=alice, chat_id=chat.pk, message_ids=[old.pk, recent.pk])
    # Deleted 40 and 2 days ago: no service deletes in the past, and the purge goes by age.
    now = timezone.now()
    for message, days in ((old, 40), (recent, 2)):
        ChatMessage.objects.filter(pk=message.pk).update(deletion_time=now - timedelta(days=days))
    return alice, bob, chat, old, recent, kept


def test_purge_removes_only_old_soft_deleted_messages(chat_with_history):
    _, _, _, old, recent, kept = chat_with_history
    assert run("purge_deleted_messages", "--older-than", "30", "--dry-run").startswith("would purge 1 ")
    assert ChatMessage.objects.filter(pk=old.pk).exists()
    assert run("purge_deleted_messages", "--older-than", "30").startswith("purged 1 ")
    assert set(ChatMessage.objects.values_list("pk", flat=True)) == {recent.pk, kept.pk}


def test_purge_keeps_read_marks(chat_with_history):
    _alice, bob, chat, old, _, _kept = chat_with_history
    assert ChatMember.objects.get(chat=chat, user=bob).last_read_message_id == old.pk
    run("purge_deleted_messages", "--older-than", "30")
    membership = ChatMember.objects.get(chat=chat, user=bob)
    assert membership.last_read_message_id == old.pk
    assert chat_header_dto_for(viewer=bob, chat_id=chat.pk).value["unreadCount"] == 1  # only "kept"


def test_purge_refuses_negative_days():
    with pytest.raises(CommandError):
        run("purge_deleted_messages", "--older-than", "-1")


def test_reset_viewing_state_clears_shared_presence(settings, redis_url):
    settings.REDIS_URL = redis_url
    store = get_state().presence
    async_to_sync(store.add_socket)("u1", "s1", "web")
    async_to_sync(store.set_viewing)("s1", "u1", 5)
    assert "cleared in Redis" in run("reset_viewing_state")
    assert async_to_sync(store.viewing_user_ids)(5) == set()
    assert async_to_sync(store.online_user_ids)(["u1"]) == set()
