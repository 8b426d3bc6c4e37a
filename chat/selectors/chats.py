"""Reads. Access checks raise one error for "missing" and "not yours" so that ids cannot be probed."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Count, Exists, IntegerField, OuterRef, Prefetch, Q, Subquery, Value
from django.db.models.functions import Coalesce

from chat import dtos
from chat.errors import Forbidden
from chat.models import (
    ChatMember,
    ChatMessage,
    Friendship,
    FriendshipStatus,
    User,
    direct_pair_key,
)
from chat.selectors.social import fill_reactions
from chat.state.reads import PresenceNeeds, WithPresence
from chat.validation import parse_user_id


def membership_get(*, user: User, chat_id: int) -> ChatMember:
    """The caller's membership of a chat, or `forbidden` whether the chat exists or not."""
    membership = ChatMember.objects.select_related("chat").filter(chat_id=chat_id, user_id=user.pk).first()
    if membership is None:
        raise Forbidden("You are not a member of this chat.")
    return membership


def contact_user_ids(*, user_id) -> set[str]:
    """Who hears this user's `clientStatus`: accepted friends and members of chats they share.

    Never a user on either side of a block: a block hides presence too, even in a shared group.
    """
    relations = Friendship.objects.filter(
        Q(requester_id=user_id) | Q(addressee_id=user_id),
        status__in=[FriendshipStatus.ACCEPTED, FriendshipStatus.BLOCKED],
    ).values_list("requester_id", "addressee_id", "status")
    ids: set[str] = set()
    blocked: set[str] = set()
    for requester, addressee, status in relations:
        (blocked if status == FriendshipStatus.BLOCKED else ids).update((str(requester), str(addressee)))
    my_chats = ChatMember.objects.filter(user_id=user_id).values("chat_id")
    ids.update(
        str(uid) for uid in ChatMember.objects.filter(chat_id__in=my_chats).values_list("user_id", flat=True).distinct()
    )
    ids.discard(str(user_id))
    return ids - blocked


def blocks_between(user_ref, other_ref):
    """The BLOCKED friendship rows between two users, either way; each side an id or an `OuterRef`."""
    return Friendship.objects.filter(
        Q(requester_id=user_ref, addressee_id=other_ref) | Q(requester_id=other_ref, addressee_id=user_ref),
        status=FriendshipStatus.BLOCKED,
    )


def members_hidden_from(*, user_id, chat_id: int) -> set[str]:
    """The chat's members on the other side of a block from `user_id` (either blocked the other), in one
    query. Across a block neither side hears the other's typing, joins or reads (CONTRACT §11)."""
    members = ChatMember.objects.filter(chat_id=chat_id).values("user_id")
    rows = Friendship.objects.filter(
        Q(requester_id=user_id, addressee_id__in=members) | Q(addressee_id=user_id, requester_id__in=members),
        status=FriendshipStatus.BLOCKED,
    ).values_list("requester_id", "addressee_id")
    me = str(user_id)
    return {str(addressee) if str(requester) == me else str(requester) for requester, addressee in rows}


def friendship_between(*, user_a_id, user_b_id) -> Friendship | None:
    return Friendship.objects.filter(pair_key=direct_pair_key(user_a_id, user_b_id)).first()


def friendship_statuses(*, user_id, other_ids: Iterable) -> dict[str, int]:
    """Friendship status with each of `other_ids` (absent when there is none), in one query."""
    keys = {direct_pair_key(user_id, other): str(other) for other in other_ids}
    rows = Friendship.objects.filter(pair_key__in=keys).values_list("pair_key", "status")
    return {keys[key]: status for key, status in rows}


def unread_count_subquery(member_ref: str = "") -> Subquery:
    """Messages from others, not deleted, newer than the member's last read message."""
    prefix = f"{member_ref}__" if member_ref else ""
    count = (
        ChatMessage.objects.filter(
            chat_id=OuterRef(f"{prefix}chat_id"),
            is_deleted=False,
            id__gt=Coalesce(OuterRef(f"{prefix}last_read_message_id"), Value(0)),
        )
        .exclude(sender_id=OuterRef(f"{prefix}user_id"))
        .order_by()
        .values("chat_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    return Coalesce(Subquery(count, output_field=IntegerField()), Value(0))


def chat_header_dtos(*, viewer: User, chat_ids: list[int], reactions: bool = True) -> WithPresence[list[dict]]:
    """ChatHeaderDtos for `chat_ids` (in that order) as `viewer` sees them, in a fixed number of queries;
    their members' presence is filled in by `chat.state.reads.with_presence`. `reactions=False`: the
    last messages' reactions are left for the caller to fill in (with its other messages, one query)."""
    return chat_headers_with_hidden(viewer=viewer, chat_ids=chat_ids, reactions=reactions)[0]


def chat_headers_with_hidden(
    *, viewer: User, chat_ids: list[int], reactions: bool = True
) -> tuple[WithPresence[list[dict]], set[str]]:
    """`chat_header_dtos`, plus the members of those chats on the other side of a block from `viewer`.

    Across a block a member is never online or viewing (CONTRACT §11): their presence is not even
    asked. Whether each member is blocked with the viewer is an EXISTS on the members' own query, so
    this costs no extra query.
    """
    if not chat_ids:
        return WithPresence([]), set()
    members = (
        ChatMember.objects.select_related("user")
        .annotate(blocked_with_viewer=Exists(blocks_between(OuterRef("user_id"), viewer.pk)))
        .order_by("joined_time", "id")
    )
    memberships = (
        ChatMember.objects.filter(user_id=viewer.pk, chat_id__in=chat_ids)
        .annotate(unread=unread_count_subquery())
        .select_related("chat", "chat__last_message", "chat__last_message__sender", "chat__last_message__reply_to")
        .prefetch_related(Prefetch("chat__memberships", queryset=members, to_attr="all_members"))
    )
    by_chat = {m.chat_id: m for m in memberships}
    member_ids = {str(mm.user_id) for m in by_chat.values() for mm in m.chat.all_members}
    hidden = {str(mm.user_id) for m in by_chat.values() for mm in m.chat.all_members if mm.blocked_with_viewer}
    result = []
    for chat_id in chat_ids:
        m = by_chat.get(chat_id)
        if m is None:
            continue
        result.append(
            dtos.chat_header_dto(
                m.chat,
                viewer=viewer,
                memberships=m.chat.all_members,
                unread_count=m.unread,
                online=set(),
                viewing=set(),
                muted_until=m.muted_until,
                hidden=hidden,
            )
        )
    if reactions:
        fill_reactions(header["lastMessage"] for header in result)

    def fill(snapshot) -> None:
        for header in result:
            viewing = snapshot.viewers(header["id"]) - hidden
            for item, membership in zip(header["members"], by_chat[header["id"]].chat.all_members, strict=True):
                item.update(
                    dtos.member_dto(
                        membership,
                        online=snapshot.online,
                        viewing=viewing,
                        hidden=str(membership.user_id) in hidden,
                    )
                )

    needs = PresenceNeeds()
    needs.ask(fill, user_ids=member_ids - hidden, chat_ids=by_chat)
    return WithPresence(result, needs), hidden


def chat_header_dto_for(*, viewer: User, chat_id: int) -> WithPresence[dict]:
    found = chat_header_dtos(viewer=viewer, chat_ids=[chat_id])
    if not found.value:
        raise Forbidden("You are not a member of this chat.")
    return WithPresence(found.value[0], found.needs)


def user_get(*, user_id) -> User | None:
    """The active user with that GUID; None for anyone else, or for a value that is no GUID."""
    uid = parse_user_id(user_id)
    if uid is None:
        return None
    return User.objects.filter(pk=uid, is_active=True).first()
