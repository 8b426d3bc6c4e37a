"""The chat app's wire shapes (CONTRACT §5, §6, §10), built in one place for acks, emits and REST alike,
with the OpenAPI twins of the REST ones at the end of the file (they only document: the functions
above build every answer).

Camel case lives here and in the payload validators only.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.utils import timezone
from rest_framework import serializers

from chat.models import ChatHeader, ChatMember, ChatMessage, Friendship, FriendshipStatus, User


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with millisecond precision and a `Z`, as clients parse it."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def active_mute(muted_until: datetime | None, *, now: datetime | None = None) -> datetime | None:
    """`mutedUntil` (CONTRACT §9): the end of a mute that lies ahead, else None (a mute that ended is over)."""
    if muted_until is None or muted_until <= (now or timezone.now()):
        return None
    return muted_until


REPLY_PREVIEW_LENGTH = 200


def reply_preview(
    *, message_id: int | None, sender_id, message_type: int, text: str, caption: str, is_deleted: bool
) -> dict | None:
    """MessageDto.replyTo (CONTRACT §9): the answered message, its text cut at 200 characters; once it
    is deleted, nothing of its content."""
    if message_id is None:
        return None
    if is_deleted:
        text, caption = None, None
    elif len(text) > REPLY_PREVIEW_LENGTH:
        text = text[:REPLY_PREVIEW_LENGTH] + "…"
    return {
        "id": message_id,
        "userId": str(sender_id),
        "messageType": message_type,
        "message": text,
        "caption": caption,
        "isDeleted": is_deleted,
    }


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
    reply_to: dict | None,
) -> dict:
    """MessageDto: the one place its shape is written; `message_dto` and `message_dto_from_values` feed it.

    `reactions` starts empty: the selectors that build pages fill in a page's reactions with one query
    (chat.selectors.social.fill_reactions); a new message has none."""
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
        "reactions": [],
        "replyTo": reply_to,
    }


def _reply_of(message: ChatMessage) -> dict | None:
    if message.reply_to_id is None:
        return None
    original = message.reply_to
    return reply_preview(
        message_id=original.pk,
        sender_id=original.sender_id,
        message_type=original.message_type,
        text=original.message,
        caption=original.caption,
        is_deleted=original.is_deleted,
    )


def message_dto(message: ChatMessage) -> dict:
    """MessageDto of a model instance. `message.sender` (and `reply_to`, for a reply) should be loaded
    with the message (select_related); `reactions` are the instance's `prefetched_reactions` when set."""
    dto = _message(
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
        reply_to=_reply_of(message),
    )
    reactions = getattr(message, "prefetched_reactions", None)
    if reactions:
        dto["reactions"] = reactions
    return dto


def announced_message_dto(message: ChatMessage) -> dict:
    """The MessageDto the group commit announced for `message` when it stored it (the same dict, never
    changed after), else one made now: a retry's original was announced long ago."""
    dto = getattr(message, "announced_dto", None)
    return dto if dto is not None else message_dto(message)


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
    # replyTo, joined in the same query (a LEFT JOIN on the primary key)
    "reply_to_id",
    "reply_to__sender_id",
    "reply_to__message_type",
    "reply_to__message",
    "reply_to__caption",
    "reply_to__is_deleted",
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
        reply_to=reply_preview(
            message_id=row["reply_to_id"],
            sender_id=row["reply_to__sender_id"],
            message_type=row["reply_to__message_type"],
            text=row["reply_to__message"],
            caption=row["reply_to__caption"],
            is_deleted=row["reply_to__is_deleted"],
        ),
    )


def last_seen(value: datetime | None, *, online: bool, hidden: bool = False) -> str | None:
    """`lastSeen` (CONTRACT §9): when the user's last socket closed; null while online, never seen, or
    across a block (§11)."""
    return None if online or hidden else iso(value)


def member_dto(membership: ChatMember, *, online: set[str], viewing: set[str], hidden: bool = False) -> dict:
    """MemberDto. `membership.user` should be loaded with the membership. `hidden`: the member is on
    the other side of a block from the viewer (no presence, no last seen)."""
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
        "lastSeen": last_seen(membership.user.last_seen, online=user_id in online, hidden=hidden),
    }


def chat_header_dto(
    chat: ChatHeader,
    *,
    viewer: User,
    memberships: list[ChatMember],
    unread_count: int,
    online: set[str],
    viewing: set[str],
    muted_until: datetime | None = None,
    hidden: set[str] = frozenset(),
) -> dict:
    """ChatHeaderDto. A one-to-one chat is named and pictured after the other user, as apps show it.
    `muted_until`: the viewer's mute of the chat; `hidden`: members across a block from the viewer."""
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
        "members": [
            member_dto(m, online=online, viewing=viewing, hidden=str(m.user_id) in hidden) for m in memberships
        ],
        "mutedUntil": iso(active_mute(muted_until)),
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


def friend_dto(
    *, user_id, name: str, avatar: str, is_online: bool, chat_id: int | None, seen: datetime | None = None
) -> dict:
    """An item of `getMyFriendships`."""
    return {
        "userId": str(user_id),
        "name": name or None,
        "avatar": avatar or None,
        "isOnline": is_online,
        "chatHeaderId": chat_id,
        "lastSeen": last_seen(seen, online=is_online),
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
    muted_until: datetime | None = None,
    other_last_seen: datetime | None = None,
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
        "mutedUntil": iso(active_mute(muted_until)),
        "lastSeen": last_seen(other_last_seen, online=is_online, hidden=friendship_status == FriendshipStatus.BLOCKED),
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


class ReactionDto(serializers.Serializer):
    emoji = serializers.CharField()
    count = serializers.IntegerField(min_value=1)
    userIds = serializers.ListField(child=serializers.UUIDField(), help_text="at most 20, earliest first")


class ReplyPreviewDto(serializers.Serializer):
    id = serializers.IntegerField()
    userId = serializers.UUIDField()
    messageType = serializers.IntegerField(min_value=0, max_value=4)
    message = serializers.CharField(allow_null=True, help_text="cut at 200 characters; null once deleted")
    caption = serializers.CharField(allow_null=True, allow_blank=True, help_text="null once deleted")
    isDeleted = serializers.BooleanField()


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
    reactions = ReactionDto(many=True, help_text="most used first")
    replyTo = ReplyPreviewDto(allow_null=True, help_text="the message this one answers")


class MemberDto(serializers.Serializer):
    userId = serializers.UUIDField()
    name = serializers.CharField(allow_null=True, help_text="null while unknown (a placeholder user)")
    avatar = serializers.CharField(allow_null=True)
    isOnline = serializers.BooleanField()
    isViewingChat = serializers.BooleanField()
    lastReadMessageId = serializers.IntegerField(allow_null=True)
    isAdmin = serializers.BooleanField()
    lastDeliveredMessageId = serializers.IntegerField(allow_null=True)
    lastSeen = serializers.DateTimeField(
        allow_null=True, help_text="when their last socket closed; null while online, never seen, or across a block"
    )


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
    mutedUntil = serializers.DateTimeField(
        allow_null=True, help_text="the caller's mute of the chat; 9999-12-31T23:59:59Z: until unmuted"
    )


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
