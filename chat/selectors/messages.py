"""Message reads: history pages (CONTRACT §4 `findAllMessages`) and the checks on the hot write paths."""

from __future__ import annotations

from functools import cache

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
    member, chat, friendship = ChatMember._meta, ChatHeader._meta, Friendship._meta
    q = connection.ops.quote_name
    if chats == 0:  # PostgreSQL: the ids as two arrays
        chat_ids, user_ids = array_param(ChatHeader._meta.pk), array_param(User._meta.pk)
        within = f"= ANY({chat_ids}) AND m.{q('user_id')} = ANY({user_ids})"
    else:
        within = f"IN ({', '.join(['%s'] * chats)}) AND m.{q('user_id')} IN ({', '.join(['%s'] * users)})"
    return (
        f"SELECT m.{q('chat_id')}, m.{q('user_id')}, h.{q('chat_type')}, EXISTS(SELECT 1 FROM"
        f" {q(friendship.db_table)} f WHERE f.{q('pair_key')} = h.{q('direct_key')} AND f.{q('status')} = %s)"
        f" FROM {q(member.db_table)} m INNER JOIN {q(chat.db_table)} h ON h.{q('id')} = m.{q('chat_id')}"
        f" WHERE m.{q('chat_id')} {within}"
    )


def members_send_blocked(*, pairs: set[tuple[int, object]]) -> dict[tuple[int, object], bool]:
    """For each (chat id, user id) where the user is a member: whether a message from them to that
    chat would cross a block. Pairs left out of the answer are not memberships (`forbidden`).

    One hand-written query for a whole batch of messages, because it runs for every message: the ORM
    took ~0.7 ms to give one answer from two querysets (the membership with its chat, then the block);
    this takes ~0.02 ms. A one-to-one chat's `direct_key` and its users' `Friendship.pair_key` are both
    direct_pair_key() of the same two users, so the block needs neither the other member nor a join on
    users. The IN lists may match a few memberships that were not asked for; they are dropped.
    """
    if not pairs:
        return {}
    chat_ids = sorted({chat_id for chat_id, _ in pairs})
    user_ids = sorted({user_id for _, user_id in pairs}, key=str)
    user_pk = User._meta.pk
    prepared = [user_pk.get_db_prep_value(user_id, connection) for user_id in user_ids]
    with hot_cursor() as cursor:
        if connection.vendor == "postgresql":  # two arrays: one short statement for every batch
            cursor.execute(_send_access_sql(0, 0), [FriendshipStatus.BLOCKED, chat_ids, prepared])
        else:
            cursor.execute(
                _send_access_sql(len(chat_ids), len(user_ids)), [FriendshipStatus.BLOCKED, *chat_ids, *prepared]
            )
        rows = cursor.fetchall()
    answer = {}
    for chat_id, user_id, chat_type, blocked in rows:
        key = (chat_id, user_pk.to_python(user_id))
        if key in pairs:
            answer[key] = bool(blocked) and chat_type != ChatType.GROUP
    return answer


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
    `members_send_blocked`: clients read on every message they see, and the ORM took ~0.57 ms to
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
