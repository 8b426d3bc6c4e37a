"""The DRF serializers that validated socket payloads until issue 9, kept verbatim as the reference the
compiled shapes (chat/validation.py, chat/sockets/*_payloads.py) are compared against, with the DRF
fields only they used and the old `validate()`.
"""

from __future__ import annotations

from rest_framework import serializers

from chat.errors import Invalid
from chat.models import MessageType
from chat.selectors.messages import DEFAULT_PAGE_SIZE
from chat.services.messages import MAX_REMOVE_IDS
from chat.sockets.room_payloads import HEADERS_PAGE_DEFAULT, HEADERS_PAGE_MAX, MAX_ROOM_CURSORS, MAX_SKIP
from chat.validation import MAX_ID, StrictBooleanField, StrictCharField


def _first_error(detail, prefix: str = "") -> str:
    if isinstance(detail, dict):
        field, value = next(iter(detail.items()))
        name = prefix if field == "non_field_errors" else (f"{prefix}.{field}" if prefix else str(field))
        return _first_error(value, name)
    if isinstance(detail, list) and detail:
        first = detail[0]
        if isinstance(first, (dict, list)):
            return _first_error(first, prefix)
        return f"{prefix}: {first}" if prefix else str(first)
    return f"{prefix}: {detail}" if prefix else str(detail)


def validate(serializer_class: type[serializers.Serializer], payload: dict) -> dict:
    """Validated data of `payload`, or `invalid` naming the first bad field."""
    serializer = serializer_class(data=payload)
    if not serializer.is_valid():
        raise Invalid(_first_error(serializer.errors))
    return serializer.validated_data


class StrictIntegerField(serializers.IntegerField):
    """An integer or a string of digits (the spec sends some ids as strings); never a bool or a float."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or isinstance(data, float):
            self.fail("invalid")
        return super().to_internal_value(data)


class IdField(StrictIntegerField):
    """A chat or message id."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", MAX_ID)
        super().__init__(**kwargs)


class CountField(StrictIntegerField):
    """An optional cursor, offset or count: zero or more."""

    def __init__(self, **kwargs):
        kwargs.setdefault("min_value", 0)
        kwargs.setdefault("max_value", MAX_ID)
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_null", True)
        super().__init__(**kwargs)


# --- chat/sockets/message_payloads.py ---


class TextField(StrictCharField):
    """A string kept exactly as sent (the services trim), that the database can store: JSON allows
    lone UTF-16 surrogates, which no UTF-8 database accepts."""

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        kwargs.setdefault("allow_blank", True)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            self.fail("invalid")
        return value


class CreateMessagePayload(serializers.Serializer):
    chatHeaderId = IdField(source="chat_id")
    message = TextField(source="text")
    messageType = StrictIntegerField(source="message_type", min_value=0, max_value=max(MessageType.values))
    caption = TextField(required=False, allow_null=True)
    clientMessageId = TextField(source="client_message_id", required=False, allow_null=True, max_length=64)
    replyToMessageId = IdField(source="reply_to_id", required=False, allow_null=True)  # issue 13


class FindAllMessagesPayload(serializers.Serializer):
    chatHeaderId = IdField(source="chat_id")
    lastMessageId = CountField(source="last_message_id")
    LastMessageId = CountField(source="LastMessageId_")
    skipCount = CountField(source="skip")
    SkipCount = CountField(source="SkipCount_")
    maxResultCount = CountField(source="limit")
    MaxResultCount = CountField(source="MaxResultCount_")

    def validate(self, attrs):
        def pick(name: str, alias: str):
            value = attrs.pop(name, None)
            alias_value = attrs.pop(alias, None)
            return value if value is not None else alias_value

        # A cursor of 0 (what a client that has no messages yet tends to send) means "from the newest".
        before = pick("last_message_id", "LastMessageId_")
        limit = pick("limit", "MaxResultCount_")
        return {
            "chat_id": attrs["chat_id"],
            "before_id": before or None,
            "skip": pick("skip", "SkipCount_") or 0,
            "limit": DEFAULT_PAGE_SIZE if limit is None else limit,
        }


class UpdateMessagePayload(serializers.Serializer):
    id = IdField(source="message_id")
    chatHeaderId = IdField(source="chat_id")
    message = TextField(source="text")
    caption = TextField(required=False, allow_null=True)


class RemoveMessagePayload(serializers.Serializer):
    id = IdField(source="message_id", required=False, allow_null=True)
    ids = serializers.ListField(child=IdField(), required=False, allow_null=True, max_length=MAX_REMOVE_IDS)
    chatHeaderId = IdField(source="chat_id")

    def validate(self, attrs):
        # The spec: `ids` wins over `id` when both are given.
        ids = attrs.get("ids") or ([attrs["message_id"]] if attrs.get("message_id") is not None else [])
        if not ids:
            raise serializers.ValidationError({"ids": "Give the message `id` or a list of `ids`."})
        return {"chat_id": attrs["chat_id"], "message_ids": ids}


class ReadMessagePayload(serializers.Serializer):
    chatHeaderId = IdField(source="chat_id")


# --- chat/sockets/room_payloads.py ---


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


# --- chat/sockets/social_payloads.py (issue 13): written after issue 9, in the same DRF terms ---


class ReactMessagePayload(serializers.Serializer):
    chatHeaderId = IdField(source="chat_id")
    messageId = IdField(source="message_id")
    emoji = StrictCharField(max_length=64)
    remove = StrictBooleanField(required=False, allow_null=True)


class UnmuteChatPayload(serializers.Serializer):
    chatHeaderId = IdField(source="chat_id")


class SearchMessagesPayload(serializers.Serializer):
    query = StrictCharField(max_length=200)
    chatHeaderId = IdField(source="chat_id", required=False, allow_null=True)
    skipCount = CountField(source="skip")
    maxResultCount = CountField(source="limit")

    def validate(self, attrs):
        limit = attrs.get("limit")
        return {
            "query": attrs["query"],
            "chat_id": attrs.get("chat_id"),
            "skip": attrs.get("skip") or 0,
            "limit": 20 if limit is None else limit,
        }
