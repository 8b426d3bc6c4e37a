"""The database itself refuses what must never exist (issue: data model).

Rows are written with the ORM on purpose: the services never try to write these, so only a direct
write shows that the constraints themselves hold.
"""

import pytest
from django.db import IntegrityError, transaction

from chat.models import ChatHeader, ChatMember, ChatMessage, ChatType, Friendship, FriendshipStatus, direct_pair_key
from chat.services.chats import chat_direct_get_or_create

pytestmark = pytest.mark.django_db


def test_direct_pair_key_is_unordered(make_user):
    a, b = make_user("A"), make_user("B")
    assert direct_pair_key(a.pk, b.pk) == direct_pair_key(b.pk, a.pk)


@pytest.mark.parametrize("order", ["same", "reversed"])
def test_database_refuses_a_second_direct_chat_for_a_pair(make_user, order):
    a, b = make_user("A"), make_user("B")
    ChatHeader.objects.create(chat_type=ChatType.INDIVIDUAL, direct_key=direct_pair_key(a.pk, b.pk))
    first, second = (a, b) if order == "same" else (b, a)
    with pytest.raises(IntegrityError), transaction.atomic():
        ChatHeader.objects.create(chat_type=ChatType.INDIVIDUAL, direct_key=direct_pair_key(first.pk, second.pk))


def test_database_refuses_a_direct_chat_without_a_pair_and_a_group_with_one(make_user):
    with pytest.raises(IntegrityError), transaction.atomic():
        ChatHeader.objects.create(chat_type=ChatType.INDIVIDUAL, direct_key=None)
    with pytest.raises(IntegrityError), transaction.atomic():
        ChatHeader.objects.create(chat_type=ChatType.GROUP, direct_key="x:y")
    ChatHeader.objects.create(chat_type=ChatType.GROUP, name="ok")
    ChatHeader.objects.create(chat_type=ChatType.GROUP, name="two groups are fine")


def test_database_refuses_a_second_membership(make_user):
    a, b = make_user("A"), make_user("B")
    chat, _ = chat_direct_get_or_create(user=a, other=b)
    with pytest.raises(IntegrityError), transaction.atomic():
        ChatMember.objects.create(chat=chat, user=a)


def test_get_or_create_returns_the_same_chat_in_either_order(make_user):
    a, b = make_user("A"), make_user("B")
    chat, created = chat_direct_get_or_create(user=a, other=b)
    again, created_again = chat_direct_get_or_create(user=b, other=a)
    assert created and not created_again and again.pk == chat.pk
    assert set(chat.memberships.values_list("user_id", flat=True)) == {a.pk, b.pk}


def test_client_message_id_is_unique_per_sender_and_chat_only_when_present(make_user):
    a, b = make_user("A"), make_user("B")
    chat, _ = chat_direct_get_or_create(user=a, other=b)
    ChatMessage.objects.create(chat=chat, sender=a, message="1", client_message_id="abc")
    ChatMessage.objects.create(chat=chat, sender=b, message="2", client_message_id="abc")
    ChatMessage.objects.create(chat=chat, sender=a, message="3")
    ChatMessage.objects.create(chat=chat, sender=a, message="4")
    with pytest.raises(IntegrityError), transaction.atomic():
        ChatMessage.objects.create(chat=chat, sender=a, message="5", client_message_id="abc")


def test_message_type_range_is_enforced(make_user):
    a, b = make_user("A"), make_user("B")
    chat, _ = chat_direct_get_or_create(user=a, other=b)
    with pytest.raises(IntegrityError), transaction.atomic():
        ChatMessage.objects.create(chat=chat, sender=a, message="x", message_type=5)


def test_one_friendship_row_per_unordered_pair(make_user):
    a, b = make_user("A"), make_user("B")
    Friendship.objects.create(requester=a, addressee=b)
    with pytest.raises(IntegrityError), transaction.atomic():
        Friendship.objects.create(requester=b, addressee=a)


def test_friendship_rules_in_the_database(make_user):
    a, b = make_user("A"), make_user("B")
    with pytest.raises(IntegrityError), transaction.atomic():
        Friendship.objects.create(requester=a, addressee=a)
    with pytest.raises(IntegrityError), transaction.atomic():
        Friendship.objects.create(requester=a, addressee=b, status=FriendshipStatus.BLOCKED)
    Friendship.objects.create(requester=a, addressee=b, status=FriendshipStatus.BLOCKED, blocked_by=a)
