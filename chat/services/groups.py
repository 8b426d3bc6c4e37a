"""Group chat writes (CONTRACT §6): create, add members, remove members.

Admins add and remove anyone; anyone may leave. Additions are announced with `onMemberJoin` to the
chat's room; a removed member's sockets leave the room after the commit, so they hear nothing more.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from functools import partial

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from chat import dtos
from chat.errors import Blocked, Forbidden, Invalid, NotFound
from chat.events import after_commit, bridge, chat_room
from chat.models import (
    ChangeKind,
    ChatHeader,
    ChatMember,
    ChatType,
    Friendship,
    FriendshipStatus,
    User,
    direct_pair_key,
)
from chat.selectors.chats import membership_get
from chat.services.blocks import emit_hidden
from chat.services.changes import changes_reserve
from chat.services.users import users_get_or_placeholder
from chat.state.store import get_state

MAX_GROUP_MEMBERS = 1000


def _users(user_ids: Iterable[uuid.UUID], *, field: str) -> list[User]:
    """The active users named; a GUID this server never saw is a placeholder user (CONTRACT §2)."""
    ids = list(dict.fromkeys(user_ids))
    found = {u.pk: u for u in users_get_or_placeholder(user_ids=ids)}
    missing = [str(uid) for uid in ids if uid not in found]
    if missing:
        raise NotFound(f"{field}: no such user {missing[0]}.")
    return [found[uid] for uid in ids]


def _refuse_blocked(actor: User, users: list[User]) -> None:
    """Nobody is put in a group by, or with the adder as, a user on either side of a block."""
    keys = [direct_pair_key(actor.pk, u.pk) for u in users if u.pk != actor.pk]
    if keys and Friendship.objects.filter(pair_key__in=keys, status=FriendshipStatus.BLOCKED).exists():
        raise Blocked("You cannot add a user you have blocked or who has blocked you.")


def _group_membership(*, user: User, chat_id: int) -> ChatMember:
    """The caller's membership of a group; `forbidden` whether the chat is missing, not theirs or not a group."""
    membership = membership_get(user=user, chat_id=chat_id)
    if membership.chat.chat_type != ChatType.GROUP:
        raise Forbidden("This is not a group chat.")
    return membership


def group_create(*, creator: User, name: str, member_ids: Iterable[uuid.UUID]) -> ChatHeader:
    """A group chat with `creator` as its admin and the other users as members.

    Counts against the "newChat" rate limit, which the transport asks (on the event loop) before this
    call: naming unknown users may create placeholder users, and a refused call leaves nothing behind.
    """
    name = (name or "").strip()
    if not name:
        raise Invalid("name: a group needs a name.")
    others = [u for u in _users(member_ids, field="memberIds") if u.pk != creator.pk]
    if len(others) + 1 > MAX_GROUP_MEMBERS:
        raise Invalid(f"memberIds: a group has at most {MAX_GROUP_MEMBERS} members.")
    _refuse_blocked(creator, others)
    with transaction.atomic():
        log = changes_reserve(1)  # before the chat's INSERT (chat.services.changes)
        seq = log.take()
        now = timezone.now()
        chat = ChatHeader.objects.create(
            chat_type=ChatType.GROUP, name=name[:200], created_by=creator, creation_time=now, last_activity_time=now
        )
        ChatMember.objects.bulk_create(
            [ChatMember(chat=chat, user=creator, is_admin=True, joined_time=now, joined_seq=seq)]
            + [ChatMember(chat=chat, user=u, joined_time=now, joined_seq=seq) for u in others]
        )
        log.add(ChangeKind.CHAT_CREATED, seq=seq, chat_id=chat.pk)
        log.write()
    return chat


def group_members_add(*, actor: User, chat_id: int, user_ids: Iterable[uuid.UUID]) -> list[ChatMember]:
    """Admins add users to a group; those already in it are skipped. Each addition emits `onMemberJoin`
    (MemberDto plus `chatHeaderId`) to the chat's room after the commit, except to the sockets of members
    on the other side of a block from the new member (CONTRACT §11). Returns the new memberships.

    In the change feed each new member gets a `chat.created` of their own (the chat appears in their
    list) and the chat a `member.joined` per new member; a new member sees the chat's changes from there.
    """
    user_ids = list(dict.fromkeys(user_ids))
    with transaction.atomic():
        log = changes_reserve(2 * len(user_ids))  # before any row lock (chat.services.changes)
        membership = _group_membership(user=actor, chat_id=chat_id)
        if not membership.is_admin:
            raise Forbidden("Only a group admin can add members.")
        users = _users(user_ids, field="userIds")
        present = set(ChatMember.objects.filter(chat_id=chat_id, user__in=users).values_list("user_id", flat=True))
        new_users = [u for u in users if u.pk not in present]
        if ChatMember.objects.filter(chat_id=chat_id).count() + len(new_users) > MAX_GROUP_MEMBERS:
            raise Invalid(f"userIds: a group has at most {MAX_GROUP_MEMBERS} members.")
        _refuse_blocked(actor, new_users)
        now = timezone.now()
        appeared = [log.take() for _ in new_users]
        joined = [log.take() for _ in new_users]
        start = joined[0] if joined else 0
        added = ChatMember.objects.bulk_create(
            [ChatMember(chat_id=chat_id, user=u, joined_time=now, joined_seq=start) for u in new_users]
        )
        for member, appeared_seq, joined_seq in zip(added, appeared, joined, strict=True):
            log.add(ChangeKind.CHAT_CREATED, seq=appeared_seq, chat_id=int(chat_id), audience_id=member.user_id)
            data = dtos.member_dto(member, online=set(), viewing=set())
            log.add(ChangeKind.MEMBER_JOINED, seq=joined_seq, chat_id=int(chat_id), data=data)
        log.write()
        hidden = _blocked_members(chat_id=chat_id, user_ids=[u.pk for u in new_users])
        # On the loop after the commit: presence is never asked from this thread or under the write lock.
        after_commit(
            partial(_announce_joins, chat_id=int(chat_id), added=added, hidden=hidden),
            f"onMemberJoin of {len(added)} to {chat_room(chat_id)}",
        )
    return added


def _blocked_members(*, chat_id: int, user_ids: list) -> dict[str, set[str]]:
    """For each of `user_ids`, the chat's members on the other side of a block from them; one query."""
    if not user_ids:
        return {}
    members = ChatMember.objects.filter(chat_id=chat_id).values("user_id")
    rows = Friendship.objects.filter(
        Q(requester_id__in=user_ids, addressee_id__in=members) | Q(addressee_id__in=user_ids, requester_id__in=members),
        status=FriendshipStatus.BLOCKED,
    ).values_list("requester_id", "addressee_id")
    wanted = {str(uid) for uid in user_ids}
    hidden: dict[str, set[str]] = {}
    for requester, addressee in rows:
        for one, other in ((str(requester), str(addressee)), (str(addressee), str(requester))):
            if one in wanted:
                hidden.setdefault(one, set()).add(other)
    return hidden


async def _announce_joins(*, chat_id: int, added: list[ChatMember], hidden: dict[str, set[str]]) -> None:
    online = await get_state().presence.online_user_ids(str(m.user_id) for m in added)
    for member in added:
        payload = dtos.member_join_event(dtos.member_dto(member, online=online, viewing=set()), chat_id=chat_id)
        emit_hidden(
            "onMemberJoin", payload, room=chat_room(chat_id), hidden_user_ids=hidden.get(str(member.user_id), ())
        )


def group_member_remove(*, actor: User, chat_id: int, user_id: uuid.UUID | None) -> None:
    """An admin removes anyone; anyone removes themselves (leaves).

    After the commit the removed user's sockets leave the chat's room and stop viewing it. A group
    whose last admin leaves gets the longest-standing remaining member as its admin.
    """
    with transaction.atomic():
        log = changes_reserve(2)  # before any row lock (chat.services.changes)
        membership = _group_membership(user=actor, chat_id=chat_id)
        is_self = user_id == actor.pk
        if not is_self and not membership.is_admin:
            raise Forbidden("Only a group admin can remove other members.")
        if is_self:
            target = membership
        else:
            target = ChatMember.objects.filter(chat_id=chat_id, user_id=user_id).first() if user_id else None
        if target is None:
            raise NotFound("userId: that user is not a member of this group.")
        target.delete()
        # The chat's members hear it; the removed member gets one of their own, the last of that chat.
        left = {"userId": str(target.user_id)}
        log.add(ChangeKind.MEMBER_LEFT, chat_id=int(chat_id), data=left)
        log.add(ChangeKind.MEMBER_LEFT, chat_id=int(chat_id), audience_id=target.user_id, data=left)
        log.write()
        remaining = ChatMember.objects.filter(chat_id=chat_id)
        if remaining.exists() and not remaining.filter(is_admin=True).exists():
            heir = remaining.order_by("joined_time", "id").first()
            ChatMember.objects.filter(pk=heir.pk).update(is_admin=True)
        _leave_room_after_commit(user_id=str(user_id), chat_id=int(chat_id))


def _leave_room_after_commit(*, user_id: str, chat_id: int) -> None:
    async def leave() -> None:
        presence = get_state().presence
        for sid in await presence.user_sids(user_id):
            await bridge.sio.leave_room(sid, chat_room(chat_id))
        await presence.clear_user_viewing(user_id, chat_id)

    after_commit(leave, f"{user_id} leaves {chat_room(chat_id)}")
