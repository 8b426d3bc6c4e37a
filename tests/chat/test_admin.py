"""The admin (CONTRACT §8): every model is there, and moderators soft-delete and restore messages."""

import pytest
from django.contrib import admin
from django.urls import reverse

from chat.models import ChatHeader, ChatMessage, User
from chat.selectors.chats import chat_header_dto_for
from chat.services.chats import chat_direct_get_or_create
from chat.services.messages import message_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def moderator(client):
    user = User.objects.create_superuser(name="Mod", password="a-long-test-password")
    client.force_login(user)
    return client


@pytest.fixture
def conversation(make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    chat, _ = chat_direct_get_or_create(user=alice, other=bob)
    first, _ = message_create(sender=alice, chat_id=chat.pk, message_type=0, text="first")
    last, _ = message_create(sender=alice, chat_id=chat.pk, message_type=0, text="last")
    return alice, bob, chat, first, last


def test_every_model_has_a_working_changelist(moderator, conversation):
    for model in admin.site._registry:
        url = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        assert moderator.get(url).status_code == 200, url


def test_chat_change_page_shows_member_inlines(moderator, conversation):
    _, _, chat, _, _ = conversation
    page = moderator.get(reverse("admin:chat_chatheader_change", args=[chat.pk]))
    assert page.status_code == 200
    assert b"memberships-TOTAL_FORMS" in page.content


def test_message_search_and_filters(moderator, conversation):
    url = reverse("admin:chat_chatmessage_changelist")
    assert b"first" in moderator.get(url, {"q": "first"}).content
    assert moderator.get(url, {"is_deleted__exact": "1"}).status_code == 200


def test_moderators_soft_delete_and_restore_in_bulk(moderator, conversation):
    _alice, bob, chat, first, last = conversation
    url = reverse("admin:chat_chatmessage_changelist")
    response = moderator.post(url, {"action": "soft_delete", "_selected_action": [last.pk]}, follow=True)
    assert b"1 message(s) deleted for everyone" in response.content
    last.refresh_from_db()
    assert last.is_deleted and last.deletion_time is not None
    assert ChatHeader.objects.get(pk=chat.pk).last_message_id == first.pk
    assert chat_header_dto_for(viewer=bob, chat_id=chat.pk).value["unreadCount"] == 1

    moderator.post(url, {"action": "restore", "_selected_action": [last.pk]})
    last.refresh_from_db()
    assert not last.is_deleted and last.deletion_time is None
    assert ChatHeader.objects.get(pk=chat.pk).last_message_id == last.pk
    assert chat_header_dto_for(viewer=bob, chat_id=chat.pk).value["unreadCount"] == 2
    assert ChatMessage.objects.count() == 2  # soft: nothing was lost
