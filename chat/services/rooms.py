"""Sockets in chat rooms: joining, leaving, typing, and the per-socket viewing state (CONTRACT §3, §4).

The database part of each event (access checks, creating a one-to-one chat, the DTOs) runs in one
synchronous call in the ORM's thread. The socket part (room membership, viewing, typing) is done by
the handler on the event loop right after, once it has checked that the socket is still connected:
a socket whose disconnect already ran must leave no viewing or typing state behind, because nothing
would ever clear it (the user would never get a push for that chat again). Viewing and presence are
the async state layer's (chat.state): `viewing_start`/`viewing_stop` are awaited on the loop, and the
answers' presence is filled in there (`RoomJoin.needs`), never from this thread.

`typing` and `onMemberJoin` describe no database change, so they are emitted at once, not after a
commit; they still leave from here so that every transport announces them the same way. Neither
reaches the sockets of a member on the other side of a block from the user it is about (CONTRACT §11):
the database part names those members, the announcement skips their sockets.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef, Q

from chat import dtos
from chat.errors import Blocked, Forbidden
from chat.events import chat_room
from chat.models import ChatMember, ChatType, Friendship, FriendshipStatus, User
from chat.selectors.chats import (
    chat_headers_with_hidden,
    friendship_between,
    members_hidden_from,
    membership_get,
)
from chat.services.blocks import emit_hidden
from chat.services.chats import chat_direct_open
from chat.state.reads import PresenceNeeds
from chat.state.store import get_state


@dataclass(frozen=True)
class RoomJoin:
    chat_id: int
    member: dict  # the joiner's MemberDto
    ack: dict
    hidden: frozenset[str] = field(default_factory=frozenset)  # members across a block from the joiner
    needs: PresenceNeeds = field(default_factory=PresenceNeeds)  # the ack's presence, filled on the loop
    created: bool = False  # whether the join created the one-to-one chat (it counts as a new chat)


def room_join(*, user: User, chat_id: int | None = None, other_user_id=None, may_create: bool = True) -> RoomJoin:
    """Resolve the chat a socket joins and describe it as the joiner will see it once viewing.

    `chat_id`: the user must be a member, else `forbidden` whether the chat exists or not (the header
    read below is that check: it finds the chat through the user's membership).
    `other_user_id` (used when `chat_id` is None): their one-to-one chat, created on first use;
    yourself is `invalid`, a GUID never seen a placeholder user; a new chat across a block is `blocked`,
    and one the caller's "newChat" budget has no room for (`may_create` false, asked by the handler
    before this hop) is `rate_limited` (`chat_direct_open`); `created` says whether one was made.
    Across a block, members show neither online nor viewing, and `hidden` names them so that the
    joiner's `onMemberJoin` skips their sockets. The ack's presence is filled in by the handler from
    `needs` (chat.state.reads).
    """
    created = False
    if chat_id is None:
        chat, created = chat_direct_open(user=user, other_id=other_user_id, may_create=may_create)
        chat_id = chat.pk
    headers, hidden = chat_headers_with_hidden(viewer=user, chat_ids=[chat_id])
    if not headers.value:
        raise Forbidden("You are not a member of this chat.")
    header = headers.value[0]
    me = str(user.pk)
    current = next(m for m in header["members"] if m["userId"] == me)

    def joiner_is_here(snapshot) -> None:
        # The handler marks this socket viewing right after; the answer already says so.
        current["isViewingChat"] = True
        current["isOnline"] = True

    headers.needs.ask(joiner_is_here)
    friendship_status = None
    if header["chatType"] == ChatType.INDIVIDUAL:
        other = next((m["userId"] for m in header["members"] if m["userId"] != me), None)
        if other is not None:
            friendship = friendship_between(user_a_id=user.pk, user_b_id=other)
            friendship_status = friendship.status if friendship is not None else None
    ack = dtos.join_room_ack(header=header, current=current, friendship_status=friendship_status)
    return RoomJoin(
        chat_id=chat_id, member=current, ack=ack, hidden=frozenset(hidden), needs=headers.needs, created=created
    )


@dataclass(frozen=True)
class TypingCheck:
    name: str  # the member's stored display name, which `typing` announces
    hidden: frozenset[str]  # members across a block from the typist, who must not hear it


def room_typing_check(*, user: User, chat_id: int) -> TypingCheck:
    """Whether `user` may announce typing in the chat, and how.

    Non-members are `forbidden`. Across a block in a one-to-one chat nothing can be sent, so typing
    is `blocked` too: a blocked user must not be able to put "typing…" on the blocker's screen. In a
    group, the members across a block from the typist are named in `hidden`. (The "typing" rate limit
    is the handler's, asked before this.) One query, two when the typist has a block and the chat is a
    group.
    """
    pair_blocked = Friendship.objects.filter(pair_key=OuterRef("chat__direct_key"), status=FriendshipStatus.BLOCKED)
    any_block = Friendship.objects.filter(
        Q(requester_id=user.pk) | Q(addressee_id=user.pk), status=FriendshipStatus.BLOCKED
    )
    row = (
        ChatMember.objects.filter(chat_id=chat_id, user_id=user.pk)
        .annotate(pair_blocked=Exists(pair_blocked), any_block=Exists(any_block))
        .values_list("user__name", "chat__chat_type", "pair_blocked", "any_block")
        .first()
    )
    if row is None:
        raise Forbidden("You are not a member of this chat.")
    name, chat_type, is_blocked, has_blocks = row
    if is_blocked:
        raise Blocked("You cannot message this user: one of you has blocked the other.")
    hidden: set[str] = set()
    if has_blocks and chat_type == ChatType.GROUP:
        hidden = members_hidden_from(user_id=user.pk, chat_id=chat_id)
    return TypingCheck(name=name, hidden=frozenset(hidden))


def room_leave_check(*, user: User, chat_id: int) -> None:
    """Only a member may leave a chat's room (`forbidden` otherwise, so ids cannot be probed)."""
    membership_get(user=user, chat_id=chat_id)


async def viewing_start(*, sid: str, user_id, chat_id: int) -> None:
    """This socket is looking at the chat: its user gets no push for it (CONTRACT §7)."""
    await get_state().presence.set_viewing(sid, str(user_id), chat_id)


async def viewing_stop(*, sid: str, chat_id: int) -> None:
    """This socket stopped looking at the chat; the user's other sockets keep their own state."""
    await get_state().presence.clear_viewing(sid, chat_id)


def member_join_announce(*, chat_id: int, member: dict, skip_sid: str, hidden_user_ids: Iterable = ()) -> None:
    """`onMemberJoin` to every other socket in the chat's room, but those of `hidden_user_ids`."""
    emit_hidden(
        "onMemberJoin",
        dtos.member_join_event(member, chat_id=chat_id),
        room=chat_room(chat_id),
        hidden_user_ids=hidden_user_ids,
        skip_sid=skip_sid,
    )


def typing_announce(
    *, chat_id: int, user_id, name: str, is_typing: bool, skip_sid: str, hidden_user_ids: Iterable = ()
) -> dict:
    """`typing` to every other socket in the chat's room, but those of `hidden_user_ids`; returns the event."""
    event = dtos.typing_event(chat_id=chat_id, user_id=user_id, name=name, is_typing=is_typing)
    emit_hidden("typing", event, room=chat_room(chat_id), hidden_user_ids=hidden_user_ids, skip_sid=skip_sid)
    return event


def typing_stop_all(
    *, sid: str, user_id, typing: dict[int, str], hidden: dict[int, frozenset[str]] | None = None
) -> None:
    """A socket that goes away stops the typing it announced (CONTRACT §3), to the same sockets that
    heard it start (`hidden`: per chat, the members its start skipped)."""
    hidden = hidden if hidden is not None else {}
    for chat_id, name in list(typing.items()):
        typing_announce(
            chat_id=chat_id,
            user_id=user_id,
            name=name,
            is_typing=False,
            skip_sid=sid,
            hidden_user_ids=hidden.pop(chat_id, ()),
        )
    typing.clear()
