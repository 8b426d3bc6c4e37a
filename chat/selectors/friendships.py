"""Friendship reads for REST (CONTRACT §6)."""

from __future__ import annotations

from django.db.models import Q

from chat import dtos
from chat.models import ChatHeader, Friendship, User, direct_pair_key


def friendship_list_for_user(*, user: User) -> list[dict]:
    """Every friendship of `user`, of any status, most recently changed first, in two queries."""
    rows = list(
        Friendship.objects.filter(Q(requester_id=user.pk) | Q(addressee_id=user.pk))
        .select_related("requester", "addressee")
        .order_by("-last_modification_time", "-id")
    )
    chats = dict(
        ChatHeader.objects.filter(direct_key__in=[row.pair_key for row in rows]).values_list("direct_key", "id")
    )
    return [dtos.friendship_dto(row, viewer=user, chat_id=chats.get(row.pair_key)) for row in rows]


def friendship_dto_for(*, user: User, friendship: Friendship) -> dict:
    friendship = Friendship.objects.select_related("requester", "addressee").get(pk=friendship.pk)
    chat_id = (
        ChatHeader.objects.filter(direct_key=direct_pair_key(friendship.requester_id, friendship.addressee_id))
        .values_list("id", flat=True)
        .first()
    )
    return dtos.friendship_dto(friendship, viewer=user, chat_id=chat_id)
