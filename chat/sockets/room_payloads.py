"""Payload shapes of the room, typing and list events, with the spec's wire names (CONTRACT §4).

Only shape is checked here: types, required fields, ranges that the database could not even store.
Who may do what is the services' business. Compiled `Shape`s (chat/validation.py): a few µs each.
"""

from __future__ import annotations

from chat.validation import (
    Bad,
    Field,
    Shape,
    boolean,
    count,
    guid,
    integer,
    list_of,
    object_id,
    optional,
    parse_user_id,
    string,
)

# Far beyond any real offset, small enough for every database's OFFSET.
MAX_SKIP = 1_000_000_000
HEADERS_PAGE_DEFAULT = 20
HEADERS_PAGE_MAX = 100
# How many rooms one findAllChatHeaders may ask to catch up on.
MAX_ROOM_CURSORS = 1000


def _token(wire: str) -> Field:
    return optional(wire, string(trim=False, allow_blank=True))


def _optional_text(wire: str, key: str) -> Field:
    return optional(wire, string(allow_blank=True, max_length=1000), key=key)


def _chat_or_user(data: dict) -> dict:
    if data.get("chat_id") is None and data.get("other_user_id") is None:
        raise Bad("Provide chatHeaderId or otherUserId.")
    return data


JoinRoomPayload = Shape(
    optional("chatHeaderId", object_id(), key="chat_id"),
    optional("otherUserId", guid, key="other_user_id"),
    # "Your User ID": when given it must be the token's user (checked by the handler).
    _optional_text("userId", "user_id"),
    # Informational only: the server always acts on the socket the event arrived on.
    _optional_text("socketId", "socket_id"),
    _token("accessToken"),
    finish=_chat_or_user,
)

LeaveRoomPayload = Shape(Field("chatHeaderId", object_id(), key="chat_id"), _token("accessToken"))

RoomTypingPayload = Shape(
    Field("isTyping", boolean, key="is_typing"),
    # Required by the spec; the server announces the user's stored name instead of trusting it.
    Field("name", string(allow_blank=True, max_length=1000)),
    Field("chatHeaderId", object_id(), key="chat_id"),
    _token("accessToken"),
)

RoomCursorPayload = Shape(
    Field("ChatHeaderId", object_id(), key="chat_id"),
    optional("LastMessageId", count(), key="last_message_id"),
)


def _headers_page(data: dict) -> dict:
    limit = data.get("limit")
    data["limit"] = HEADERS_PAGE_DEFAULT if limit is None else min(limit, HEADERS_PAGE_MAX)
    data["skip"] = data.get("skip") or 0
    cursors: dict[int, int] = {}
    for room in data.get("rooms") or ():
        last = room.get("last_message_id") or 0
        # The same room named twice: catch up from the older cursor, nothing is skipped.
        cursors[room["chat_id"]] = min(last, cursors.get(room["chat_id"], last))
    data["rooms"] = cursors
    data["user_ids"] = [v for v in (data.pop("user_id_upper", None), data.pop("user_id_lower", None)) if v]
    return data


FindAllChatHeadersPayload = Shape(
    _token("AccessToken"),
    _token("accessToken"),
    _optional_text("UserId", "user_id_upper"),
    _optional_text("userId", "user_id_lower"),
    # Each item is an object: a null item is refused, not skipped.
    optional("RoomsWithLastMessageIds", list_of(RoomCursorPayload, max_length=MAX_ROOM_CURSORS), key="rooms"),
    optional("SkipCount", integer(min_value=0, max_value=MAX_SKIP), key="skip"),
    # Above the maximum is clamped, not refused (CONTRACT §4).
    optional("MaxResultCount", integer(min_value=0), key="limit"),
    finish=_headers_page,
)

# getMyFriendships and getMyChats: an optional token, nothing else.
TokenOnlyPayload = Shape(_token("accessToken"), _token("AccessToken"))


def same_user(value: str, user_id) -> bool:
    """Whether a payload's user id names `user_id` (GUIDs compare case-insensitively)."""
    parsed = parse_user_id(value)
    return parsed is not None and parsed == parse_user_id(user_id)
