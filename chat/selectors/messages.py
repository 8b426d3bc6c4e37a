"""Message reads: history pages (CONTRACT §4 `findAllMessages`) and the checks on the hot write paths."""

from __future__ import annotations

from functools import cache
from typing import NamedTuple

from django.db import connection

from chat import dtos
from chat.errors import Forbidden
from chat.models import ChatHeader, ChatMember, ChatMessage, ChatType, Friendship, FriendshipStatus, User
from chat.selectors.social import fill_reactions
from chat.sql import array_param, hot_cursor

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100


def newest_visible_id(chat):
    """The id of the chat's newest message that is not deleted, as a one-row subquery; `chat` is an id
    or an `OuterRef` to one."""
    return ChatMessage.objects.filter(chat_id=chat, is_deleted=False).order_by("-id").values("id")[:1]


@cache
def _send_access_sql(chats: int, users: int) -> str:
    member, chat, friendship, user = ChatMember._meta, ChatHeader._meta, Friendship._meta, User._meta
    q = connection.ops.quote_name
    if chats == 0:  # PostgreSQL: the ids as two arrays
        in_chats, in_users = f"= ANY({array_param(chat.pk)})", f"= ANY({array_param(user.pk)})"
    else:
        in_chats, in_users = (f"IN ({', '.join(['%s'] * count)})" for count in (chats, users))
    # One row per user asked, with each of their memberships among the chats asked (NULLs: none). On
    # PostgreSQL the memberships are a LATERAL subquery, looked up user by user through the (user,
    # chat) index: as a plain LEFT JOIN, the generic plan could hash-join every header. SQLite has no
    # LATERAL, and joins a derived table of the memberships of both the chats and the users asked (the
    # (chat, user) index), on the user.
    memberships = (
        f"SELECT m.{q('user_id')}, m.{q('chat_id')}, h.{q('chat_type')}, h.{q('direct_key')}"
        f" FROM {q(member.db_table)} m INNER JOIN {q(chat.db_table)} h ON h.{q('id')} = m.{q('chat_id')}"
        f" WHERE m.{q('chat_id')} {in_chats}"
    )
    if chats == 0:
        joined = f"LEFT JOIN LATERAL ({memberships} AND m.{q('user_id')} = u.{q('id')}) a ON TRUE"
    else:
        joined = f"LEFT JOIN ({memberships} AND m.{q('user_id')} {in_users}) a ON a.{q('user_id')} = u.{q('id')}"
    return (
        f"SELECT u.{q('id')}, u.{q('is_active')}, a.{q('chat_id')}, a.{q('chat_type')}, EXISTS(SELECT 1 FROM"
        f" {q(friendship.db_table)} f WHERE f.{q('pair_key')} = a.{q('direct_key')} AND f.{q('status')} = %s)"
        f" FROM {q(user.db_table)} u {joined} WHERE u.{q('id')} {in_users}"
    )


class SendAccess(NamedTuple):
    """`send_access`'s answer. `blocked`: for each (chat id, user id) asked where the user is a member,
    whether a message from them to that chat would cross a block (a pair left out is no membership:
    `forbidden`). `inactive`: the users asked who are deactivated or gone (their session is over)."""

    blocked: dict[tuple[int, object], bool]
    inactive: set


def send_access(*, pairs: set[tuple[int, object]]) -> SendAccess:
    """Who of `pairs` (chat id, user id) may send to that chat, for a whole createMessage batch: one
    hand-written query for memberships, blocks and whether each sender is still active.

    It runs for every message: the ORM took ~0.7 ms to give one answer from two querysets (the
    membership with its chat, then the block); this takes ~0.02 ms in the database. Each round trip to
    PostgreSQL costs ~0.2 ms of the ORM thread's CPU: the senders' active check, which every event
    makes (CONTRACT §2), rides on this query instead of taking one of its own. A one-to-one chat's
    `direct_key` and its users' `Friendship.pair_key` are both direct_pair_key() of the same two users,
    so the block needs neither the other member nor a second join on users. The IN lists may match a
    few memberships that were not asked for; they are dropped.
    """
    if not pairs:
        return SendAccess({}, set())
    chat_ids = sorted({chat_id for chat_id, _ in pairs})
    user_pk = User._meta.pk
    by_value = {user_pk.get_db_prep_value(user_id, connection): user_id for _, user_id in pairs}
    prepared = sorted(by_value, key=str)
    with hot_cursor() as cursor:
        if connection.vendor == "postgresql":  # two arrays: one short statement for every batch
            cursor.execute(_send_access_sql(0, 0), [FriendshipStatus.BLOCKED, chat_ids, prepared])
        else:
            cursor.execute(
                _send_access_sql(len(chat_ids), len(prepared)),
                [FriendshipStatus.BLOCKED, *chat_ids, *prepared, *prepared],
            )
        rows = cursor.fetchall()
    blocked = {}
    active = set()
    for user_value, is_active, chat_id, chat_type, crosses_block in rows:
        user_id = by_value.get(user_value)
        if user_id is None:  # a form the database hands back that differs from the one sent
            user_id = user_pk.to_python(user_value)
        if is_active:
            active.add(user_id)
        key = (chat_id, user_id)
        if chat_id is not None and key in pairs:
            blocked[key] = bool(crosses_block) and chat_type != ChatType.GROUP
    return SendAccess(blocked, {user_id for _, user_id in pairs} - active)


@cache
def _read_state_sql() -> str:
    member, message, friendship = ChatMember._meta, ChatMessage._meta, Friendship._meta
    q = connection.ops.quote_name
    return (
        f"SELECT m.{q('id')}, m.{q('last_read_message_id')}, m.{q('last_delivered_message_id')},"
        f" (SELECT x.{q('id')} FROM {q(message.db_table)} x"
        f" WHERE x.{q('chat_id')} = m.{q('chat_id')} AND x.{q('is_deleted')} = %s ORDER BY x.{q('id')} DESC LIMIT 1),"
        f" EXISTS(SELECT 1 FROM {q(friendship.db_table)} f WHERE f.{q('status')} = %s"
        f" AND (f.{q('requester_id')} = m.{q('user_id')} OR f.{q('addressee_id')} = m.{q('user_id')}))"
        f" FROM {q(member.db_table)} m WHERE m.{q('chat_id')} = %s AND m.{q('user_id')} = %s"
    )


def member_read_state(*, user: User, chat_id: int) -> tuple[int, int | None, int | None, int | None, bool]:
    """(membership id, its read mark, its delivered mark, the chat's newest visible message id, whether
    the user is on either side of any block) for `readMessage` and `markDelivered`.

    `forbidden` for non-members, whether or not the chat exists. Hand-written for the same reason as
    `send_access`: clients read on every message they see, and the ORM took ~0.57 ms to
    compile this one subquery; the query itself runs in ~0.02 ms on the (chat, -id) index. The block
    flag lets the common case (no block at all) skip asking which members the read must not reach.
    """
    user_id = User._meta.pk.get_db_prep_value(user.pk, connection)
    with connection.cursor() as cursor:
        cursor.execute(_read_state_sql(), [False, FriendshipStatus.BLOCKED, chat_id, user_id])
        row = cursor.fetchone()
    if row is None:
        raise Forbidden("You are not a member of this chat.")
    return row[0], row[1], row[2], row[3], bool(row[4])


def message_page(
    *,
    user: User,
    chat_id: int,
    before_id: int | None = None,
    skip: int = 0,
    limit: int = DEFAULT_PAGE_SIZE,
) -> dict:
    """A page of a chat's history as `user` may see it: `{"items": [MessageDto], "totalCount": n}`.

    Members only (`forbidden` otherwise, whether or not the chat exists). Newest first; with
    `before_id`, only messages older than it (a keyset page on the (chat, -id) index, which stays
    fast however deep the page); `skip` then skips within that. `limit` is clamped to 0..100. Deleted
    messages never appear. `totalCount` counts the chat's visible messages whatever the cursor.

    Three plain queries whatever the page size: the membership with the chat's kept message count
    (`ChatHeader.message_count`; counting rows took 54 ms on a 200,000-message chat), then the page
    with its senders and the messages it answers joined, then the page's reactions.
    """
    limit = max(0, min(int(limit), MAX_PAGE_SIZE))
    skip = max(0, int(skip))
    total = (
        ChatMember.objects.filter(chat_id=chat_id, user_id=user.pk)
        .values_list("chat__message_count", flat=True)
        .first()
    )
    if total is None:
        raise Forbidden("You are not a member of this chat.")
    if limit == 0:
        return {"items": [], "totalCount": total}
    page = ChatMessage.objects.filter(chat_id=chat_id, is_deleted=False)
    if before_id is not None:
        page = page.filter(id__lt=before_id)
    rows = page.order_by("-id").values(*dtos.MESSAGE_DTO_VALUES)[skip : skip + limit]
    items = [dtos.message_dto_from_values(row) for row in rows]
    fill_reactions(items)
    return {"items": items, "totalCount": total}
