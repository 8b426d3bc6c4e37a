"""Payload shapes of the social events (CONTRACT §9): reactMessage, muteChat, unmuteChat,
searchMessages. Shape only: which emoji counts as one, and the search query's words, are the services'."""

from __future__ import annotations

from datetime import UTC

from django.utils.dateparse import parse_datetime

from chat.selectors.search import DEFAULT_SEARCH_PAGE, MAX_QUERY_LENGTH
from chat.validation import Bad, Field, Shape, boolean, count, described, object_id, optional, string

NOT_A_TIME = "Not an ISO 8601 time (for example 2026-12-01T18:00:00Z)."


def moment(value):
    """An ISO 8601 date and time; one without an offset is taken as UTC."""
    if not isinstance(value, str):
        raise Bad(NOT_A_TIME)
    try:
        parsed = parse_datetime(value.strip())
    except ValueError:
        parsed = None
    if parsed is None:
        raise Bad(NOT_A_TIME)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


described(moment, {"type": "string", "format": "date-time"})

ReactMessagePayload = Shape(
    Field("chatHeaderId", object_id(), key="chat_id"),
    Field("messageId", object_id(), key="message_id"),
    Field("emoji", string(max_length=64)),
    optional("remove", boolean),
)

MuteChatPayload = Shape(
    Field("chatHeaderId", object_id(), key="chat_id"),
    optional("until", moment),
)

UnmuteChatPayload = Shape(Field("chatHeaderId", object_id(), key="chat_id"))


def _search(data: dict) -> dict:
    limit = data.get("maxResultCount")
    return {
        "query": data["query"],
        "chat_id": data.get("chat_id"),
        "skip": data.get("skipCount") or 0,
        "limit": DEFAULT_SEARCH_PAGE if limit is None else limit,  # the selector clamps it
    }


SearchMessagesPayload = Shape(
    Field("query", string(max_length=MAX_QUERY_LENGTH)),
    optional("chatHeaderId", object_id(), key="chat_id"),
    optional("skipCount", count()),
    optional("maxResultCount", count()),
    finish=_search,
)
