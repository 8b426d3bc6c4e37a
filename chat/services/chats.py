"""Writes that several transports share. Each service states the rule it enforces."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from functools import cache

from django.db import IntegrityError, connection, transaction
from django.db.models import (
    Count,
    F,
    IntegerField,
    OuterRef,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from chat.errors import Blocked, Invalid, NotFound
from chat.models import (
    ChangeKind,
    ChatHeader,
    ChatMember,
    ChatMessage,
    ChatType,
    Friendship,
    FriendshipStatus,
    User,
    direct_pair_key,
)
from chat.selectors.messages import newest_visible_id
from chat.services.changes import changes_reserve
from chat.services.users import user_get_or_placeholder
from chat.sql import hot_cursor
from chat.state.ratelimit import refusal


def chat_direct_get_or_create(*, user: User, other: User | None, may_create: bool = True) -> tuple[ChatHeader, bool]:
    """The one-to-one chat of two users, created on first use.

    Exactly one chat per unordered pair even when both users ask at the same moment: the unique
    `direct_key` decides the race and the loser reads the winner's row. An existing chat is returned
    whatever happened since (it can still be joined and read across a block); a new one is refused
    across a block (`blocked`: a blocked user cannot put a chat in the blocker's list), and refused as
    `rate_limited` when the caller's "newChat" budget has no room (`may_create` false: the transport
    asks the budget on the event loop before this call, without counting, and counts a call that
    created a chat after it), before anything is written.
    """
    if other is None or not other.is_active:
        raise NotFound("That user does not exist.")
    return _direct_get_or_create(user=user, other_id=other.pk, resolve_other=lambda: other, may_create=may_create)


def chat_direct_open(*, user: User, other_id: uuid.UUID, may_create: bool = True) -> tuple[ChatHeader, bool]:
    """`chat_direct_get_or_create` for a caller who names the other user by GUID (`joinRoom`
    `otherUserId`, `getChatHeaderAsync`).

    A GUID this server never saw is a placeholder user (CONTRACT §2), made only once the chat is
    really being created: a refused call (yourself, blocked, rate limited) leaves no user row behind. A
    deactivated user, or an unknown one with `CHAT_PROVISION_REFERENCED_USERS` off, is `not_found`.
    """
    other = User.objects.filter(pk=other_id).first()
    if other is not None and not other.is_active:
        raise NotFound("That user does not exist.")

    def resolve_other() -> User:
        found = other or user_get_or_placeholder(user_id=other_id)
        if found is None:
            raise NotFound("That user does not exist.")
        return found

    return _direct_get_or_create(user=user, other_id=other_id, resolve_other=resolve_other, may_create=may_create)


def _direct_get_or_create(
    *, user: User, other_id, resolve_other: Callable[[], User], may_create: bool
) -> tuple[ChatHeader, bool]:
    if other_id == user.pk:
        raise Invalid("You cannot start a chat with yourself.")
    key = direct_pair_key(user.pk, other_id)
    chat = ChatHeader.objects.filter(direct_key=key).first()
    if chat is not None:
        return chat, False
    if Friendship.objects.filter(pair_key=key, status=FriendshipStatus.BLOCKED).exists():
        raise Blocked("You cannot start a chat with this user: one of you has blocked the other.")
    if not may_create:
        raise refusal("newChat")
    other = resolve_other()
    try:
        with transaction.atomic():
            log = changes_reserve(1)  # before the chat's INSERT (chat.services.changes)
            seq = log.take()
            now = timezone.now()
            chat = ChatHeader.objects.create(
                chat_type=ChatType.INDIVIDUAL,
                direct_key=key,
                created_by=user,
                creation_time=now,
                last_activity_time=now,
            )
            ChatMember.objects.bulk_create(
                [
                    ChatMember(chat=chat, user=user, joined_time=now, joined_seq=seq),
                    ChatMember(chat=chat, user=other, joined_time=now, joined_seq=seq),
                ]
            )
            log.add(ChangeKind.CHAT_CREATED, seq=seq, chat_id=chat.pk)
            log.write()
    except IntegrityError:
        return ChatHeader.objects.get(direct_key=key), False
    return chat, True


def chat_headers_messages_added(added: list[tuple[int, int, int]], *, at) -> None:
    """Messages were stored: for each (chat id, how many visible, the newest id) of `added`, count them,
    and make that message the chat's last one and `at` its activity time unless a newer one is already
    there (concurrent sends may commit in any order). One statement for every chat of a batch.

    SQLite, which locks the whole database for the transaction. On PostgreSQL a batch's headers are
    updated in the statement that inserts its messages (`chat_headers_messages_added_sql`), which locks
    them in chat-id order first.

    Hand-written because it runs for every batch: the ORM's Case/When expressions took ~0.75 ms to build
    for one chat, against ~0.03 ms to run (SQLite).
    """
    if not added:
        return
    if connection.vendor == "postgresql":
        raise RuntimeError("on PostgreSQL, headers are updated with chat_headers_messages_added_sql")
    added = sorted(added)
    rows = ", ".join(["(%s, %s, %s)"] * len(added))
    params = [value for row in added for value in row]
    with hot_cursor() as cursor:
        cursor.execute(_messages_added_sql(f"VALUES {rows}"), [connection.ops.adapt_datetimefield_value(at), *params])


def chat_headers_messages_added_sql(source: str, *, at) -> tuple[str, list]:
    """PostgreSQL: (an UPDATE, its parameters) doing `chat_headers_messages_added` for the messages of
    `source`, a CTE of the statement that inserts them (columns `chat_id` and `id`), in that statement's
    round trip.

    It locks the header rows in chat-id order before it updates one (a CTE of its own that locks them,
    MATERIALIZED so that it runs once, counted whole by a sub-select that PostgreSQL evaluates before the
    UPDATE's first row), where an UPDATE's join takes its row locks in whatever order its plan reads
    them: two batches (two workers) that update the same headers queue instead of deadlocking
    (PostgreSQL broke such a deadlock only after its `deadlock_timeout`, a second, by failing one batch)."""
    return _messages_added_from_sql(source), [connection.ops.adapt_datetimefield_value(at)]


@cache
def _messages_added_from_sql(source: str) -> str:
    q = connection.ops.quote_name
    header, pk = q(ChatHeader._meta.db_table), q(ChatHeader._meta.pk.column)
    chat, message = f"{source}.{q('chat_id')}", f"{source}.{q('id')}"
    locked = (
        f"SELECT h.{pk} FROM {header} h WHERE h.{pk} IN (SELECT {chat} FROM {source}) ORDER BY h.{pk} FOR UPDATE OF h"
    )
    rows = f"SELECT {chat} AS column1, count(*) AS column2, max({message}) AS column3 FROM {source} GROUP BY {chat}"
    update = _messages_added_sql(rows)
    return f"WITH locked AS MATERIALIZED ({locked}) {update} AND (SELECT count(*) FROM locked) IS NOT NULL"


def _messages_added_sql(rows: str) -> str:
    # `rows`: a VALUES list or a SELECT, its columns column1.. (VALUES' names on both databases):
    # (chat id, count, newest id).
    q = connection.ops.quote_name
    header = q(ChatHeader._meta.db_table)
    last = f"{header}.{q('last_message_id')}"
    newer = f"({last} IS NULL OR {last} < v.column3)"
    return (
        f"UPDATE {header} SET {q('message_count')} = {header}.{q('message_count')} + v.column2,"
        f" {q('last_message_id')} = CASE WHEN {newer} THEN v.column3 ELSE {last} END,"
        f" {q('last_activity_time')} = CASE WHEN {newer} THEN %s ELSE {header}.{q('last_activity_time')} END"
        f" FROM ({rows}) AS v WHERE {header}.{q('id')} = v.column1"
    )


def chat_header_visibility_changed(*, chat_id: int, delta: int) -> None:
    """`delta` messages were hidden (negative) or restored (positive): adjust the count and point the
    header at the newest visible message."""
    ChatHeader.objects.filter(pk=chat_id).update(
        message_count=F("message_count") + delta, last_message_id=Subquery(newest_visible_id(chat_id))
    )


def chat_message_counts_refresh(*, chat_ids=None) -> int:
    """Recount visible messages from scratch (after rows were written around the services, e.g. a bulk
    import); returns how many chats were updated."""
    visible = (
        ChatMessage.objects.filter(chat_id=OuterRef("pk"), is_deleted=False)
        .order_by()
        .values("chat_id")
        .annotate(n=Count("id"))
        .values("n")
    )
    headers = ChatHeader.objects.all() if chat_ids is None else ChatHeader.objects.filter(pk__in=list(chat_ids))
    return headers.update(
        message_count=Coalesce(Subquery(visible, output_field=IntegerField()), Value(0)),
        last_message_id=Subquery(newest_visible_id(OuterRef("pk"))),
    )
