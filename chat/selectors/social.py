"""Reactions as MessageDtos show them (CONTRACT §9): every selector that builds MessageDtos fills a
whole page's reactions in with one query (`fill_reactions`), whatever the number of messages."""

from __future__ import annotations

from collections.abc import Iterable

from chat.models import Reaction

MAX_REACTION_USER_IDS = 20


def reactions_by_message(message_ids: Iterable[int]) -> dict[int, list[dict]]:
    """`[{emoji, count, userIds}]` of each message that has reactions, most used first (ties: the
    emoji used first), `userIds` the first 20 to use it. One query on the (message, user, emoji) index."""
    ids = sorted(set(message_ids))
    if not ids:
        return {}
    rows = (
        Reaction.objects.filter(message_id__in=ids)
        .order_by("message_id", "creation_time", "id")
        .values_list("message_id", "emoji", "user_id")
    )
    grouped: dict[int, dict[str, list]] = {}
    for message_id, emoji, user_id in rows:
        grouped.setdefault(message_id, {}).setdefault(emoji, []).append(str(user_id))
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
