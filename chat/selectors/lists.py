"""The list reads of the socket API: findAllChatHeaders, getMyChats, getMyFriendships (CONTRACT §4).

Each runs in a fixed number of queries whatever the number of chats, members, friends or rooms to
catch up on (tests/chat/test_selectors_lists.py proves it), and builds its items through chat.dtos.
"""

from __future__ import annotations

from functools import reduce
from operator import or_

from django.db.models import F, OuterRef, Q, Subquery, UUIDField, Value
from django.db.models.functions import Coalesce

from chat import dtos
from chat.models import ChatHeader, ChatMember, ChatMessage, ChatType, Friendship, FriendshipStatus, User
from chat.selectors.chats import chat_header_dtos, friendship_statuses, unread_count_subquery
from chat.selectors.messages import newest_visible_id
from chat.selectors.social import fill_reactions
from chat.state.reads import PresenceNeeds, WithPresence

NEW_MESSAGES_MAX = 100
_NO_BOUND = 2**63 - 1


def chat_headers_page(*, user: User, skip: int, limit: int, rooms: dict[int, int] | None = None) -> WithPresence[dict]:
    """Every chat the user is a member of, individual and group, most recent activity first.

    `rooms` maps chat ids to the last message id the client has; those of them on this page carry
    `newMessages` (see `new_messages_by_chat`). Rooms the user is not a member of, or that are not on
    this page, are ignored: a client with a stale list still gets its answer. Six queries (the last:
    the reactions of every last message and new message on the page).
    """
    mine = ChatMember.objects.filter(user_id=user.pk)
    total = mine.count()
    chat_ids: list[int] = []
    if limit > 0:
        chat_ids = list(
            mine.order_by("-chat__last_activity_time", "-chat_id").values_list("chat_id", flat=True)[
                skip : skip + limit
            ]
        )
    headers = chat_header_dtos(viewer=user, chat_ids=chat_ids, reactions=False)
    items = headers.value
    on_page = set(chat_ids)
    cursors = {chat_id: last for chat_id, last in (rooms or {}).items() if chat_id in on_page}
    shown = [item["lastMessage"] for item in items]
    if cursors:
        new = new_messages_by_chat(cursors=cursors)
        for item in items:
            if item["id"] in cursors:
                item["newMessages"] = new.get(item["id"], [])
                shown += item["newMessages"]
    fill_reactions(shown)
    return WithPresence({"items": items, "totalCount": total}, headers.needs)


def new_messages_by_chat(*, cursors: dict[int, int], limit: int = NEW_MESSAGES_MAX) -> dict[int, list[dict]]:
    """For each chat, its visible messages with ids above the cursor: the oldest `limit`, oldest first.

    One query for any number of chats. Each chat's condition is bounded by the id of its `limit`-th
    message after the cursor, found by a correlated subquery that walks the (chat, id) index for at
    most `limit` rows; so a client that was away for a million messages costs 100 rows per chat, not a
    million (a ROW_NUMBER window would number every row after the cursor first). A client continues
    with the last id it received when a chat gives it exactly `limit` messages. Their `reactions` are
    left empty for the caller to fill in (`fill_reactions`, with its other messages).
    """
    if not cursors:
        return {}
    conditions = []
    for chat_id, last_id in cursors.items():
        after = ChatMessage.objects.filter(chat_id=chat_id, id__gt=last_id, is_deleted=False).order_by("id")
        bound = Coalesce(Subquery(after.values("id")[limit - 1 : limit]), Value(_NO_BOUND))
        conditions.append(Q(chat_id=chat_id, id__gt=last_id, id__lte=bound))
    messages = (
        ChatMessage.objects.filter(reduce(or_, conditions), is_deleted=False)
        .select_related("sender", "reply_to")
        .order_by("chat_id", "id")
    )
    result: dict[int, list[dict]] = {}
    for message in messages:
        result.setdefault(message.chat_id, []).append(dtos.message_dto(message))
    return result


def direct_chats_for_user(*, user: User) -> WithPresence[list[dict]]:
    """The user's one-to-one chats, named after the other user: most recent message first, then the
    chats without a (visible) message, newest first. Four queries. Across a block the other user is
    never online.

    The last message is the newest one not deleted, whatever `ChatHeader.last_message` says, so a
    deleted message never shows in the list.
    """
    other_member = ChatMember.objects.filter(chat_id=OuterRef("chat_id")).exclude(user_id=OuterRef("user_id"))
    rows = list(
        ChatMember.objects.filter(user_id=user.pk, chat__chat_type=ChatType.INDIVIDUAL)
        .annotate(
            other_id=Subquery(other_member.values("user_id")[:1], output_field=UUIDField()),
            last_id=Subquery(newest_visible_id(OuterRef("chat_id"))),
            unread=unread_count_subquery(),
        )
        .values("chat_id", "chat__creation_time", "muted_until", "other_id", "last_id", "unread")
    )
    rows = [row for row in rows if row["other_id"] is not None]  # the other user's account was deleted
    other_ids = {row["other_id"] for row in rows}
    users = {u["id"]: u for u in User.objects.filter(pk__in=other_ids).values("id", "name", "avatar", "last_seen")}
    last_ids = [row["last_id"] for row in rows if row["last_id"] is not None]
    messages = {
        m["id"]: m for m in ChatMessage.objects.filter(pk__in=last_ids).values("id", "message", "creation_time")
    }
    statuses = friendship_statuses(user_id=user.pk, other_ids=other_ids)

    def order(row):
        last = messages.get(row["last_id"])
        if last is not None:
            return (1, last["creation_time"], row["chat_id"])
        return (0, row["chat__creation_time"], row["chat_id"])

    items: list[tuple[dict, dict]] = []  # (the item, what builds it)
    for row in sorted(rows, key=order, reverse=True):
        other = users[row["other_id"]]
        last = messages.get(row["last_id"])
        fields = {
            "chat_id": row["chat_id"],
            "other_id": other["id"],
            "other_name": other["name"],
            "other_avatar": other["avatar"],
            "last_text": last["message"] if last is not None else None,
            "last_time": last["creation_time"] if last is not None else None,
            "creation_time": row["chat__creation_time"],
            "unread_count": row["unread"],
            "friendship_status": statuses.get(str(other["id"])),
            "muted_until": row["muted_until"],
            "other_last_seen": other["last_seen"],
        }
        items.append((dtos.direct_chat_dto(**fields, is_online=False), fields))

    def fill(snapshot) -> None:
        for item, fields in items:
            item.update(dtos.direct_chat_dto(**fields, is_online=str(fields["other_id"]) in snapshot.online))

    # Across a block neither side sees the other online (CONTRACT §11): their presence is not asked.
    needs = PresenceNeeds()
    needs.ask(fill, user_ids=(uid for uid in other_ids if statuses.get(str(uid)) != FriendshipStatus.BLOCKED))
    return WithPresence([item for item, _ in items], needs)


def friends_for_user(*, user: User) -> WithPresence[list[dict]]:
    """The user's accepted friends by name, each with their one-to-one chat when it exists. One query.

    Only accepted friendships: a blocked pair (status 3) is never listed, so no presence crosses a block.
    """
    chat_of_pair = ChatHeader.objects.filter(direct_key=OuterRef("pair_key")).values("id")[:1]
    rows = (
        Friendship.objects.filter(Q(requester_id=user.pk) | Q(addressee_id=user.pk), status=FriendshipStatus.ACCEPTED)
        .annotate(chat_id=Subquery(chat_of_pair))
        .values(
            "requester_id",
            "addressee_id",
            "chat_id",
            req_name=F("requester__name"),
            req_avatar=F("requester__avatar"),
            req_seen=F("requester__last_seen"),
            add_name=F("addressee__name"),
            add_avatar=F("addressee__avatar"),
            add_seen=F("addressee__last_seen"),
        )
    )
    friends = []
    for row in rows:
        if row["requester_id"] == user.pk:
            friends.append((row["addressee_id"], row["add_name"], row["add_avatar"], row["chat_id"], row["add_seen"]))
        else:
            friends.append((row["requester_id"], row["req_name"], row["req_avatar"], row["chat_id"], row["req_seen"]))
    friends.sort(key=lambda f: (f[1].casefold(), str(f[0])))
    items = [
        dtos.friend_dto(user_id=uid, name=name, avatar=avatar, is_online=False, chat_id=chat_id, seen=seen)
        for uid, name, avatar, chat_id, seen in friends
    ]

    def fill(snapshot) -> None:
        for item, (uid, name, avatar, chat_id, seen) in zip(items, friends, strict=True):
            item.update(
                dtos.friend_dto(
                    user_id=uid,
                    name=name,
                    avatar=avatar,
                    is_online=str(uid) in snapshot.online,
                    chat_id=chat_id,
                    seen=seen,
                )
            )

    needs = PresenceNeeds()
    needs.ask(fill, user_ids=(f[0] for f in friends))
    return WithPresence(items, needs)
