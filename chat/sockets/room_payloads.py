"""Payload shapes of the room, typing and list events, with the spec's wire names (CONTRACT §4).

Only shape is checked here: types, required fields, ranges that the database could not even store.
Who may do what is the services' business.
"""

from __future__ import annotations

from rest_framework import serializers

from chat.validation import CountField, IdField, StrictBooleanField, StrictCharField, StrictIntegerField, parse_user_id

# Far beyond any real offset, small enough for every database's OFFSET.
MAX_SKIP = 1_000_000_000
HEADERS_PAGE_DEFAULT = 20
HEADERS_PAGE_MAX = 100
# How many rooms one findAllChatHeaders may ask to catch up on.
MAX_ROOM_CURSORS = 1000


class StrictUUIDField(serializers.UUIDField):
    """A GUID given as a string (DRF would also turn an integer into a UUID)."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid", value=data)
        return super().to_internal_value(data)


def _token_field(**kwargs):
    return StrictCharField(required=False, allow_null=True, allow_blank=True, trim_whitespace=False, **kwargs)


def _optional_text(**kwargs):
    return StrictCharField(required=False, allow_null=True, allow_blank=True, max_length=1000, **kwargs)


class JoinRoomPayload(serializers.Serializer):
    chatHeaderId = IdField(source="chat_id", required=False, allow_null=True)
    otherUserId = StrictUUIDField(source="other_user_id", required=False, allow_null=True)
    # "Your User ID": when given it must be the token's user (checked by the handler).
    userId = _optional_text(source="user_id")
    # Informational only: the server always acts on the socket the event arrived on.
    socketId = _optional_text(source="socket_id")
    accessToken = _token_field()

    def validate(self, attrs):
        if attrs.get("chat_id") is None and attrs.get("other_user_id") is None:
            raise serializers.ValidationError("Provide chatHeaderId or otherUserId.")
        return attrs


class LeaveRoomPayload(serializers.Serializer):
    chatHeaderId = IdField(source="chat_id")
    accessToken = _token_field()


class RoomTypingPayload(serializers.Serializer):
    isTyping = StrictBooleanField(source="is_typing")
    # Required by the spec; the server announces the user's stored name instead of trusting it.
    name = StrictCharField(allow_blank=True, max_length=1000)
    chatHeaderId = IdField(source="chat_id")
    accessToken = _token_field()


class RoomCursorPayload(serializers.Serializer):
    ChatHeaderId = IdField(source="chat_id")
    LastMessageId = CountField(source="last_message_id")


class FindAllChatHeadersPayload(serializers.Serializer):
    AccessToken = _token_field()
    accessToken = _token_field()
    UserId = _optional_text(source="user_id_upper")
    userId = _optional_text(source="user_id_lower")
    # A ListField, not many=True: that would let each item be null too.
    RoomsWithLastMessageIds = serializers.ListField(
        child=RoomCursorPayload(), source="rooms", required=False, allow_null=True, max_length=MAX_ROOM_CURSORS
    )
    SkipCount = StrictIntegerField(source="skip", required=False, allow_null=True, min_value=0, max_value=MAX_SKIP)
    # Above the maximum is clamped, not refused (CONTRACT §4).
    MaxResultCount = StrictIntegerField(source="limit", required=False, allow_null=True, min_value=0)

    def validate(self, attrs):
        limit = attrs.get("limit")
        attrs["limit"] = HEADERS_PAGE_DEFAULT if limit is None else min(limit, HEADERS_PAGE_MAX)
        attrs["skip"] = attrs.get("skip") or 0
        cursors: dict[int, int] = {}
        for room in attrs.get("rooms") or ():
            last = room.get("last_message_id") or 0
            # The same room named twice: catch up from the older cursor, nothing is skipped.
            cursors[room["chat_id"]] = min(last, cursors.get(room["chat_id"], last))
        attrs["rooms"] = cursors
        attrs["user_ids"] = [v for v in (attrs.pop("user_id_upper", None), attrs.pop("user_id_lower", None)) if v]
        return attrs


class TokenOnlyPayload(serializers.Serializer):
    """getMyFriendships and getMyChats: an optional token, nothing else."""

    accessToken = _token_field()
    AccessToken = _token_field()


def same_user(value: str, user_id) -> bool:
    """Whether a payload's user id names `user_id` (GUIDs compare case-insensitively)."""
    parsed = parse_user_id(value)
    return parsed is not None and parsed == parse_user_id(user_id)
