"""The chat app's wire shapes (CONTRACT §5, §6, §10), built in one place for acks, emits and REST alike,
with the OpenAPI twins of the REST ones at the end of the file (they only document: the functions
above build every answer).

Camel case lives here and in the payload validators only.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rest_framework import serializers

from chat.models import ChatHeader, ChatMember, ChatMessage, Friendship, User


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with millisecond precision and a `Z`, as clients parse it."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def user_brief(user: User) -> dict:
    """`{id, name, avatar}`. In every DTO a user's `name` and `avatar` are null while unknown (stored
    empty): a placeholder user named before their first token (CONTRACT §2), or a token without them."""
    return _user_brief(user.pk, user.name, user.avatar)


def _user_brief(user_id, name: str, avatar: str) -> dict:
    return {"id": str(user_id), "name": name or None, "avatar": avatar or None}


def _message(
    *,
    message_id: int,
    chat_id: int,
    sender_id,
    text: str,
    message_type: int,
    caption: str,
    client_message_id: str | None,
    creation_time: datetime,
    last_modification_time: datetime | None,
    is_edited: bool,
    sender_name: str,
    sender_avatar: str,
    seq: int | None,
) -> dict:
    """MessageDto: the one place its shape is written; `message_dto` and `message_dto_from_values` feed it."""
    return {
        "id": message_id,
        "chatHeaderId": chat_id,
        "userId": str(sender_id),
        "message": text,
        "messageType": message_type,
        "caption": caption or "",
        "clientMessageId": client_message_id,
        "creationTime": iso(creation_time),
        "lastModificationTime": iso(last_modification_time),
        "isEdited": is_edited,
        "user": _user_brief(sender_id, sender_name, sender_avatar),
        "seq": seq,
    }


def message_dto(message: ChatMessage) -> dict:
    """MessageDto of a model instance. `message.sender` should be loaded with the message (select_related)."""
    return _message(
        message_id=message.pk,
        chat_id=message.chat_id,
        sender_id=message.sender_id,
        text=message.message,
        message_type=message.message_type,
        caption=message.caption,
        client_message_id=message.client_message_id,
        creation_time=message.creation_time,
        last_modification_time=message.last_modification_time,
        is_edited=message.is_edited,
        sender_name=message.sender.name,
        sender_avatar=message.sender.avatar,
        seq=message.seq,
    )


# The columns `message_dto_from_values` needs: history pages build MessageDtos from `values()` rows,
# about twice as fast as from model instances on long lists (shared/PERFORMANCE.md).
MESSAGE_DTO_VALUES = (
    "id",
    "chat_id",
    "sender_id",
    "message",
    "message_type",
    "caption",
    "client_message_id",
    "creation_time",
    "last_modification_time",
    "is_edited",
    "sender__name",
    "sender__avatar",
    "seq",
)


def message_dto_from_values(row: dict) -> dict:
    """MessageDto of a `values(*MESSAGE_DTO_VALUES)` row."""
    return _message(
        message_id=row["id"],
        chat_id=row["chat_id"],
        sender_id=row["sender_id"],
        text=row["message"],
        message_type=row["message_type"],
        caption=row["caption"],
        client_message_id=row["client_message_id"],
        creation_time=row["creation_time"],
        last_modification_time=row["last_modification_time"],
        is_edited=row["is_edited"],
        sender_name=row["sender__name"],
        sender_avatar=row["sender__avatar"],
        seq=row["seq"],
    )


def member_dto(membership: ChatMember, *, online: set[str], viewing: set[str]) -> dict:
    """MemberDto. `membership.user` should be loaded with the membership."""
    user_id = str(membership.user_id)
    return {
        "userId": user_id,
        "name": membership.user.name or None,
        "avatar": membership.user.avatar or None,
        "isOnline": user_id in online,
        "isViewingChat": user_id in viewing,
        "lastReadMessageId": membership.last_read_message_id,
        "isAdmin": membership.is_admin,
        "lastDeliveredMessageId": membership.last_delivered_message_id,
    }


def chat_header_dto(
    chat: ChatHeader,
    *,
    viewer: User,
    memberships: list[ChatMember],
    unread_count: int,
    online: set[str],
    viewing: set[str],
) -> dict:
    """ChatHeaderDto. A one-to-one chat is named and pictured after the other user, as apps show it."""
    name, avatar = chat.name, chat.avatar or None
    if not chat.is_group:
        other = next((m.user for m in memberships if m.user_id != viewer.pk), None)
        if other is not None:
            name, avatar = other.name or None, other.avatar or None
    last = chat.last_message if chat.last_message_id and not chat.last_message.is_deleted else None
    return {
        "id": chat.pk,
        "chatType": chat.chat_type,
        "name": name,
        "avatar": avatar,
        "creationTime": iso(chat.creation_time),
        "lastMessage": message_dto(last) if last is not None else None,
        "lastMessageTime": iso(last.creation_time) if last is not None else None,
        "unreadCount": unread_count,
        "members": [member_dto(m, online=online, viewing=viewing) for m in memberships],
    }


# --- rooms, presence and the list events (getMyFriendships, getMyChats) ----------------------------


def member_join_event(member: dict, *, chat_id: int) -> dict:
    """`onMemberJoin`: the joiner's MemberDto plus the chat."""
    return {**member, "chatHeaderId": chat_id}


def join_room_ack(*, header: dict, current: dict, friendship_status: int | None) -> dict:
    """The `joinRoom` ack. `members` repeats `roomMembers` because clients read either name."""
    return {
        "chatHeaderId": header["id"],
        "joined": True,
        "roomMembers": header["members"],
        "members": header["members"],
        "currentMember": current,
        "friendshipStatus": friendship_status,
        "chatHeader": header,
    }


def leave_room_ack(*, chat_id: int) -> dict:
    return {"chatHeaderId": chat_id, "left": True}


def typing_event(*, chat_id: int, user_id, name: str, is_typing: bool) -> dict:
    return {"name": name, "isTyping": is_typing, "chatHeaderId": chat_id, "userId": str(user_id)}


def message_read_event(*, chat_id: int, user_id, last_read_message_id: int | None) -> dict:
    """`messageRead` (beyond the spec), sent right after `messageHasBeenRead`, which carries only the chat id."""
    return {"chatHeaderId": chat_id, "userId": str(user_id), "lastReadMessageId": last_read_message_id}


def message_delivered_event(*, chat_id: int, user_id, last_delivered_message_id: int | None) -> dict:
    """`messageDelivered` (CONTRACT §9, delivery receipts)."""
    return {"chatHeaderId": chat_id, "userId": str(user_id), "lastDeliveredMessageId": last_delivered_message_id}


def change_dto(*, seq: int, kind: str, chat_id: int | None, at: datetime, data) -> dict:
    """A Change of `sync` (CONTRACT §9): `type` is the `ChangeKind` label."""
    return {"seq": seq, "type": kind, "chatHeaderId": chat_id, "at": iso(at), "data": data}


def sync_ack(*, changes: list[dict], cursor: int, has_more: bool) -> dict:
    return {"changes": changes, "cursor": cursor, "hasMore": has_more}


def resync_ack(*, cursor: int) -> dict:
    """`sync` from a cursor older than the feed keeps: the client reloads its lists, then goes on from `cursor`."""
    return {"resyncRequired": True, "cursor": cursor}


def client_status_event(*, user_id, client_type: str, active: bool) -> dict:
    return {"userId": str(user_id), "clientType": client_type, "activeNow": active}


def friend_dto(*, user_id, name: str, avatar: str, is_online: bool, chat_id: int | None) -> dict:
    """An item of `getMyFriendships`."""
    return {
        "userId": str(user_id),
        "name": name or None,
        "avatar": avatar or None,
        "isOnline": is_online,
        "chatHeaderId": chat_id,
    }


def direct_chat_dto(
    *,
    chat_id: int,
    other_id,
    other_name: str,
    other_avatar: str,
    last_text: str | None,
    last_time: datetime | None,
    creation_time: datetime,
    is_online: bool,
    unread_count: int,
    friendship_status: int | None,
) -> dict:
    """An item of `getMyChats`: a one-to-one chat seen from one side, named after the other user."""
    return {
        "chatHeaderId": chat_id,
        "userId": str(other_id),
        "userName": other_name or None,
        "userAvatar": other_avatar or None,
        "lastMessage": last_text,
        "lastMessageTime": iso(last_time),
        "creationTime": iso(creation_time),
        "isOnline": is_online,
        "unreadCount": unread_count,
        "friendshipStatus": friendship_status,
    }


def user_account_dto(user: User) -> dict:
    """A user as the identity system manages them (`/api/users`, CONTRACT §10)."""
    return {
        "userId": str(user.pk),
        "name": user.name or None,
        "avatar": user.avatar or None,
        "isActive": user.is_active,
    }


def friendship_dto(friendship: Friendship, *, viewer: User, chat_id: int | None) -> dict:
    """`{userId, name, avatar, status, direction, chatHeaderId}` as `viewer` sees it.

    `direction` is "outgoing" when the viewer asked (or, for a block, blocked), else "incoming".
    """
    outgoing = friendship.requester_id == viewer.pk
    other = friendship.addressee if outgoing else friendship.requester
    return {
        "userId": str(other.pk),
        "name": other.name or None,
        "avatar": other.avatar or None,
        "status": friendship.status,
        "direction": "outgoing" if outgoing else "incoming",
        "chatHeaderId": chat_id,
    }


# --- OpenAPI twins of the shapes above (drf-spectacular reads them; nothing is serialized with them) ---


class UserBriefDto(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField(allow_null=True, help_text="null while unknown (a placeholder user)")
    avatar = serializers.CharField(allow_null=True)


class MessageDto(serializers.Serializer):
    id = serializers.IntegerField()
    chatHeaderId = serializers.IntegerField()
    userId = serializers.UUIDField()
    message = serializers.CharField()
    messageType = serializers.IntegerField(min_value=0, max_value=4)
    caption = serializers.CharField(allow_blank=True)
    clientMessageId = serializers.CharField(allow_null=True)
    creationTime = serializers.DateTimeField()
    lastModificationTime = serializers.DateTimeField(allow_null=True)
    isEdited = serializers.BooleanField()
    user = UserBriefDto()
    seq = serializers.IntegerField(
        allow_null=True, help_text="the change feed's position of the message's latest change (null: older)"
    )


class MemberDto(serializers.Serializer):
    userId = serializers.UUIDField()
    name = serializers.CharField(allow_null=True, help_text="null while unknown (a placeholder user)")
    avatar = serializers.CharField(allow_null=True)
    isOnline = serializers.BooleanField()
    isViewingChat = serializers.BooleanField()
    lastReadMessageId = serializers.IntegerField(allow_null=True)
    isAdmin = serializers.BooleanField()
    lastDeliveredMessageId = serializers.IntegerField(allow_null=True)


class ChatHeaderDto(serializers.Serializer):
    id = serializers.IntegerField()
    chatType = serializers.IntegerField(help_text="0 one-to-one, 1 group")
    name = serializers.CharField(
        allow_null=True, allow_blank=True, help_text="a one-to-one chat's is the other user's (null while unknown)"
    )
    avatar = serializers.CharField(allow_null=True)
    creationTime = serializers.DateTimeField()
    lastMessage = MessageDto(allow_null=True)
    lastMessageTime = serializers.DateTimeField(allow_null=True)
    unreadCount = serializers.IntegerField()
    members = MemberDto(many=True)


class FriendshipDto(serializers.Serializer):
    userId = serializers.UUIDField()
    name = serializers.CharField(allow_null=True, help_text="null while unknown (a placeholder user)")
    avatar = serializers.CharField(allow_null=True)
    status = serializers.IntegerField(help_text="0 pending, 1 accepted, 2 rejected, 3 blocked")
    direction = serializers.ChoiceField(
        choices=["incoming", "outgoing"], help_text="outgoing: you asked (for a block: you blocked)"
    )
    chatHeaderId = serializers.IntegerField(allow_null=True)


class UserAccountDto(serializers.Serializer):
    userId = serializers.UUIDField()
    name = serializers.CharField(allow_null=True)
    avatar = serializers.CharField(allow_null=True)
    isActive = serializers.BooleanField()


class BulkResultDto(serializers.Serializer):
    created = serializers.IntegerField()
    updated = serializers.IntegerField(help_text="users that already existed, whether or not anything changed")
