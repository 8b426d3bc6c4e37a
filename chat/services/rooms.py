"""Sockets in chat rooms: joining, leaving, typing, and the per-socket viewing state (CONTRACT §3, §4).

The database part of each event (access checks, creating a one-to-one chat, the DTOs) runs in one
synchronous call in the ORM's thread. The socket part (room membership, viewing, typing) is done by
the handler on the event loop right after, once it has checked that the socket is still connected:
a socket whose disconnect already ran must leave no viewing or typing state behind, because nothing
would ever clear it (the user would never get a push for that chat again).

`typing` and `onMemberJoin` describe no database change, so they are emitted at once, not after a
commit; they still leave from here so that every transport announces them the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, OuterRef

from chat import dtos
from chat.events import bridge, chat_room
from chat.models import ChatMember, ChatType, Friendship, FriendshipStatus, User
from chat.selectors.chats import chat_header_dto_for, friendship_between, membership_get
from chat.services.chats import chat_direct_get_or_create
from chat.services.users import user_get_or_placeholder
from chat.sockets.presence import get_presence
from chat_project.errors import Blocked, Forbidden


@dataclass(frozen=True)
class RoomJoin:
    chat_id: int
    member: dict  # the joiner's MemberDto
    ack: dict


def room_join(*, user: User, chat_id: int | None = None, other_user_id=None) -> RoomJoin:
    """Resolve the chat a socket joins and describe it as the joiner will see it once viewing.

    `chat_id`: the user must be a member, else `forbidden` whether the chat exists or not (the header
    read below is that check: it finds the chat through the user's membership).
    `other_user_id` (used when `chat_id` is None): their one-to-one chat, created on first use;
    yourself is `invalid`, an unknown user `not_found`.
    """
    if chat_id is None:
        chat, _ = chat_direct_get_or_create(user=user, other=user_get_or_placeholder(user_id=other_user_id))
        chat_id = chat.pk
    header = chat_header_dto_for(viewer=user, chat_id=chat_id)
    me = str(user.pk)
    current = next(m for m in header["members"] if m["userId"] == me)
    # The handler marks this socket viewing right after; the answer already says so.
    current["isViewingChat"] = True
    current["isOnline"] = True
    friendship_status = None
    if header["chatType"] == ChatType.INDIVIDUAL:
        other = next((m["userId"] for m in header["members"] if m["userId"] != me), None)
        if other is not None:
            friendship = friendship_between(user_a_id=user.pk, user_b_id=other)
            friendship_status = friendship.status if friendship is not None else None
    ack = dtos.join_room_ack(header=header, current=current, friendship_status=friendship_status)
    return RoomJoin(chat_id=chat_id, member=current, ack=ack)


def room_typing_name(*, user: User, chat_id: int) -> str:
    """The name `typing` announces: the member's stored display name, not what the client sent.

    Non-members are `forbidden`. Across a block in a one-to-one chat nothing can be sent, so typing
    is `blocked` too: a blocked user must not be able to put "typing…" on the blocker's screen.
    """
    blocked = Friendship.objects.filter(pair_key=OuterRef("chat__direct_key"), status=FriendshipStatus.BLOCKED)
    row = (
        ChatMember.objects.filter(chat_id=chat_id, user_id=user.pk)
        .annotate(blocked=Exists(blocked))
        .values_list("user__name", "blocked")
        .first()
    )
    if row is None:
        raise Forbidden("You are not a member of this chat.")
    name, is_blocked = row
    if is_blocked:
        raise Blocked("You cannot message this user: one of you has blocked the other.")
    return name


def room_leave_check(*, user: User, chat_id: int) -> None:
    """Only a member may leave a chat's room (`forbidden` otherwise, so ids cannot be probed)."""
    membership_get(user=user, chat_id=chat_id)


def viewing_start(*, sid: str, user_id, chat_id: int) -> None:
    """This socket is looking at the chat: its user gets no push for it (CONTRACT §7)."""
    get_presence().set_viewing(sid, str(user_id), chat_id)


def viewing_stop(*, sid: str, chat_id: int) -> None:
    """This socket stopped looking at the chat; the user's other sockets keep their own state."""
    get_presence().clear_viewing(sid, chat_id)


def member_join_announce(*, chat_id: int, member: dict, skip_sid: str) -> None:
    """`onMemberJoin` to every other socket in the chat's room."""
    bridge.emit(
        "onMemberJoin", dtos.member_join_event(member, chat_id=chat_id), room=chat_room(chat_id), skip_sid=skip_sid
    )


def typing_announce(*, chat_id: int, user_id, name: str, is_typing: bool, skip_sid: str) -> dict:
    """`typing` to every other socket in the chat's room; returns the event."""
    event = dtos.typing_event(chat_id=chat_id, user_id=user_id, name=name, is_typing=is_typing)
    bridge.emit("typing", event, room=chat_room(chat_id), skip_sid=skip_sid)
    return event


def typing_stop_all(*, sid: str, user_id, typing: dict[int, str]) -> None:
    """A socket that goes away stops the typing it announced (CONTRACT §3)."""
    for chat_id, name in list(typing.items()):
        typing_announce(chat_id=chat_id, user_id=user_id, name=name, is_typing=False, skip_sid=sid)
    typing.clear()
