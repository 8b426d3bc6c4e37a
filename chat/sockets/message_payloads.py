"""Payload shapes of the message events (spec: CreateMessageDto, GetAllChatMessages, UpdateMessageDto,
DeleteMessageDto, readMessage). Shape only: the rules (lengths after trimming, uploads, access) are the
services'. `accessToken`/`AccessToken` are read by `event_user`, and unknown fields are ignored.
"""

from __future__ import annotations

from rest_framework import serializers

from chat.models import MessageType
from chat.selectors.messages import DEFAULT_PAGE_SIZE
from chat.services.messages import MAX_REMOVE_IDS
from chat.validation import CountField, IdField, StrictCharField, StrictIntegerField


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
