"""Reactions as MessageDtos show them (CONTRACT §9): every selector that builds MessageDtos fills a
whole page's reactions in with one query (`fill_reactions`), whatever the number of messages."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from django.db import connection

from chat.models import Reaction, User

MAX_REACTION_USER_IDS = 20


@cache
def _reactions_sql(count: int) -> str:
    q = connection.ops.quote_name
    return (
        f"SELECT {q('message_id')}, {q('emoji')}, {q('user_id')} FROM {q(Reaction._meta.db_table)}"
        f" WHERE {q('message_id')} IN ({', '.join(['%s'] * count)})"
        f" ORDER BY {q('message_id')}, {q('creation_time')}, {q('id')}"
    )


def reactions_by_message(message_ids: Iterable[int]) -> dict[int, list[dict]]:
    """`[{emoji, count, userIds}]` of each message that has reactions, most used first (ties: the
    emoji used first), `userIds` the first 20 to use it. One query on the (message, user, emoji) index.

    Hand-written, as the other per-page reads are: the ORM spent ~3 ms compiling and converting a
    50-message page's 150 reactions that the query itself returns in ~0.5 ms (bench/social.py, SQLite).
    """
    ids = sorted(set(message_ids))
    if not ids:
        return {}
    with connection.cursor() as cursor:
        cursor.execute(_reactions_sql(len(ids)), ids)
        rows = cursor.fetchall()
    to_python = User._meta.pk.to_python
    users: dict = {}  # the database's user id -> its GUID string, converted once per user
    grouped: dict[int, dict[str, list]] = {}
    for message_id, emoji, user_id in rows:
        user = users.get(user_id)
        if user is None:
            user = users[user_id] = str(to_python(user_id))
        grouped.setdefault(message_id, {}).setdefault(emoji, []).append(user)
    return {message_id: summarize(by_emoji) for message_id, by_emoji in grouped.items()}


def summarize(by_emoji: dict[str, list[str]]) -> list[dict]:
    """One message's reactions from {emoji: user ids in the order they reacted} (dicts keep first use)."""
    order = {emoji: index for index, emoji in enumerate(by_emoji)}
    items = sorted(by_emoji.items(), key=lambda item: (-len(item[1]), order[item[0]]))
    return [{"emoji": emoji, "count": len(users), "userIds": users[:MAX_REACTION_USER_IDS]} for emoji, users in items]


def fill_reactions(messages: Iterable[dict | None]) -> None:
    """Set `reactions` on MessageDtos (None entries are skipped), in one query."""
    found = [message for message in messages if message is not None]
    if not found:
        return
    reactions = reactions_by_message(message["id"] for message in found)
    for message in found:
        message["reactions"] = reactions.get(message["id"], [])
