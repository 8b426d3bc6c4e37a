"""Writes that several transports share. Each service states the rule it enforces."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from chat.models import ChatHeader, ChatMember, ChatType, User, direct_pair_key
from chat_project.errors import Invalid, NotFound


def chat_direct_get_or_create(*, user: User, other: User | None) -> tuple[ChatHeader, bool]:
    """The one-to-one chat of two users, created on first use.

    Exactly one chat per unordered pair even when both users ask at the same moment: the unique
    `direct_key` decides the race and the loser reads the winner's row.
    """
    if other is None or not other.is_active:
        raise NotFound("That user does not exist.")
    if other.pk == user.pk:
        raise Invalid("You cannot start a chat with yourself.", field="otherUserId")
    key = direct_pair_key(user.pk, other.pk)
    chat = ChatHeader.objects.filter(direct_key=key).first()
    if chat is not None:
        return chat, False
    try:
        with transaction.atomic():
            now = timezone.now()
            chat = ChatHeader.objects.create(
                chat_type=ChatType.INDIVIDUAL,
                direct_key=key,
                created_by=user,
                creation_time=now,
                last_activity_time=now,
            )
            ChatMember.objects.bulk_create(
                [
                    ChatMember(chat=chat, user=user, joined_time=now),
                    ChatMember(chat=chat, user=other, joined_time=now),
                ]
            )
    except IntegrityError:
        return ChatHeader.objects.get(direct_key=key), False
    return chat, True
