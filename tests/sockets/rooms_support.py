"""Data builders shared by the room, presence and list tests, through the real services."""

from __future__ import annotations

from chat.models import Friendship, FriendshipStatus, MessageType
from chat.services import friendships
from chat.services.messages import message_create, message_remove
from tests.conftest import run_sync
from tests.sockets._message_helpers import (  # noqa: F401 - the room tests import them from here
    MESSAGE_DTO_KEYS,
    direct_chat,
    group_chat,
)

MEMBER_KEYS = {
    "userId",
    "name",
    "avatar",
    "isOnline",
    "isViewingChat",
    "lastReadMessageId",
    "isAdmin",
    "lastDeliveredMessageId",  # CONTRACT §9
    "lastSeen",  # CONTRACT §9
}
MESSAGE_KEYS = MESSAGE_DTO_KEYS
HEADER_KEYS = {
    "id",
    "chatType",
    "name",
    "avatar",
    "creationTime",
    "lastMessage",
    "lastMessageTime",
    "unreadCount",
    "members",
    "mutedUntil",  # CONTRACT §9
}


def _befriend(a, b, status: int) -> Friendship:
    """`a` asks `b` (who answers), or `a` blocks `b`: the friendship services, as the REST API calls them."""
    if status == FriendshipStatus.BLOCKED:
        return friendships.friendship_block(user=a, other=b)[0]
    row, _ = friendships.friendship_request(user=a, other=b)
    if status == FriendshipStatus.ACCEPTED:
        return friendships.friendship_accept(user=b, other=a)
    if status == FriendshipStatus.REJECTED:
        return friendships.friendship_reject(user=b, other=a)
    return row


def befriend(a, b, status: int = FriendshipStatus.ACCEPTED) -> Friendship:
    return run_sync(_befriend, a, b, status)


def send(user, chat_id: int, text: str = "hello"):
    return run_sync(lambda: message_create(sender=user, chat_id=chat_id, message_type=MessageType.TEXT, text=text)[0])


def delete_message(message) -> None:
    """Its author deletes it, as removeMessage does (the chat header's count and last message follow)."""
    run_sync(message_remove, user=message.sender, chat_id=message.chat_id, message_ids=[message.pk])
