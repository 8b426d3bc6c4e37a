"""The wire shapes of CONTRACT §5, built in one place for acks, emits and REST alike.

Camel case lives here and in the payload validators only.
"""

from __future__ import annotations

from datetime import UTC, datetime

from chat.models import ChatHeader, ChatMember, ChatMessage, User


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC with millisecond precision and a `Z`, as clients parse it."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def user_brief(user: User) -> dict:
    """`{id, name, avatar}`. In every DTO a user's `name` and `avatar` are null while unknown (stored
    empty): a placeholder user named before their first token (CONTRACT §2), or a token without them."""
    return {"id": str(user.pk), "name": user.name or None, "avatar": user.avatar or None}


def message_dto(message: ChatMessage) -> dict:
    """MessageDto. `message.sender` should be loaded with the message (select_related)."""
    return {
        "id": message.pk,
        "chatHeaderId": message.chat_id,
        "userId": str(message.sender_id),
        "message": message.message,
        "messageType": message.message_type,
        "caption": message.caption or "",
        "clientMessageId": message.client_message_id,
        "creationTime": iso(message.creation_time),
        "lastModificationTime": iso(message.last_modification_time),
        "isEdited": message.is_edited,
        "user": user_brief(message.sender),
    }


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
)


def message_dto_from_values(row: dict) -> dict:
    """MessageDto from a `values(*MESSAGE_DTO_VALUES)` row; the same shape as `message_dto`."""
    return {
        "id": row["id"],
        "chatHeaderId": row["chat_id"],
        "userId": str(row["sender_id"]),
        "message": row["message"],
        "messageType": row["message_type"],
        "caption": row["caption"] or "",
        "clientMessageId": row["client_message_id"],
        "creationTime": iso(row["creation_time"]),
        "lastModificationTime": iso(row["last_modification_time"]),
        "isEdited": row["is_edited"],
        "user": {
            "id": str(row["sender_id"]),
            "name": row["sender__name"] or None,
            "avatar": row["sender__avatar"] or None,
        },
    }


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
