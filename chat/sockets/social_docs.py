"""Descriptions of the social events (CONTRACT §9: reactions, mute, search) for the registry
(chat/sockets/registry.py)."""

from __future__ import annotations

from chat.selectors.search import MAX_SEARCH_PAGE, SEARCH_WINDOW
from chat.services.reactions import MAX_EMOJI_PER_USER
from chat.sockets import social_payloads as sp
from chat.sockets.event_docs import _HEADER_EXAMPLE, BOB, MESSAGE_EXAMPLE
from chat.sockets.registry import CHAT_HEADER, MESSAGE, ClientEvent, array, component, obj, server_event

_ID = {"type": "integer", "minimum": 1}
REACTIONS = component(
    "MessageReactionsEvent",
    obj(
        chatHeaderId=_ID,
        messageId=_ID,
        reactions=array(
            component(
                "ReactionDto",
                obj(
                    emoji={"type": "string"},
                    count={"type": "integer", "minimum": 1},
                    userIds={"type": "array", "items": {"type": "string", "format": "uuid"}, "maxItems": 20},
                ),
            )
        ),
    ),
)
_REACTIONS_EXAMPLE = {
    "chatHeaderId": 7,
    "messageId": 42,
    "reactions": [{"emoji": "👍", "count": 2, "userIds": [BOB, MESSAGE_EXAMPLE["userId"]]}],
}

REACT_MESSAGE = ClientEvent(
    summary="Put an emoji on a message, or take it off (`remove: true`).",
    payload=sp.ReactMessagePayload,
    ack=REACTIONS,
    example={"chatHeaderId": 7, "messageId": 42, "emoji": "👍"},
    ack_example=_REACTIONS_EXAMPLE,
    errors=("forbidden", "blocked", "rate_limited"),
    rules=f"`emoji` is exactly one emoji (skin tones, ZWJ sequences and flags count as one), else `invalid`; "
    f"at most {MAX_EMOJI_PER_USER} different emoji per user per message. A deleted message, or one outside "
    "the chat: `forbidden`. Adding twice or removing what is absent changes nothing (and announces nothing). "
    "Counts against CHAT_RATE_LIMIT_REACTIONS.",
    emits=("messageReactions",),
)
MUTE_CHAT = ClientEvent(
    summary="Silence a chat's message pushes for the user, until a time or until unmuted.",
    payload=sp.MuteChatPayload,
    ack=CHAT_HEADER,
    example={"chatHeaderId": 7, "until": "2026-12-02T08:00:00Z"},
    ack_example={**_HEADER_EXAMPLE, "mutedUntil": "2026-12-02T08:00:00.000Z"},
    errors=("forbidden",),
    rules="`until` null or left out: until unmuted (`mutedUntil` 9999-12-31T23:59:59Z); an `until` in the past "
    "unmutes. A time without an offset is UTC. Unread counts are unchanged; read-clear pushes still go.",
)
UNMUTE_CHAT = ClientEvent(
    summary="End the user's mute of a chat.",
    payload=sp.UnmuteChatPayload,
    ack=CHAT_HEADER,
    example={"chatHeaderId": 7},
    ack_example=_HEADER_EXAMPLE,
    errors=("forbidden",),
)
SEARCH_MESSAGES = ClientEvent(
    summary="Search the text and captions of the user's chats' messages (Arabic and English).",
    payload=sp.SearchMessagesPayload,
    ack=obj(items=array(MESSAGE), totalCount={"type": "integer", "minimum": 0}),
    example={"query": "مرحبا hello", "maxResultCount": 20},
    ack_example={"items": [MESSAGE_EXAMPLE], "totalCount": 1},
    errors=("forbidden", "rate_limited"),
    rules=f"Every word must match, as a whole word. Case, Latin accents, Arabic harakat and tatweel never "
    "prevent a match, alef forms match ا, and a leading ال is optional. Best match first, then "  # noqa: RUF001
    f"newest, among the newest {SEARCH_WINDOW} matches (`totalCount` counts those). `chatHeaderId`: "
    f"within one chat (`forbidden` unless a member). `maxResultCount` default 20, clamped to "
    f"{MAX_SEARCH_PAGE}. A query without a word: `invalid`. Counts against CHAT_RATE_LIMIT_SEARCH.",
)

server_event(
    "messageReactions",
    summary="A message's reactions changed (the whole list as it is now).",
    payload=REACTIONS,
    example=_REACTIONS_EXAMPLE,
    audience="every socket that joined the chat's room",
)
