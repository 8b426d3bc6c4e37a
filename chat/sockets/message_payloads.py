"""Payload shapes of the message events (spec: CreateMessageDto, GetAllChatMessages, UpdateMessageDto,
DeleteMessageDto, readMessage). Shape only: the rules (lengths after trimming, uploads, access) are the
services'. `accessToken`/`AccessToken` are read by `event_user`, and unknown fields are ignored.

Compiled `Shape`s (chat/validation.py): checked on the loop for every event, in a few µs.
"""

from __future__ import annotations

from chat.models import MessageType
from chat.selectors.messages import DEFAULT_PAGE_SIZE
from chat.services.messages import MAX_REMOVE_IDS
from chat.validation import Bad, Field, Shape, count, integer, list_of, object_id, optional, text

CreateMessagePayload = Shape(
    Field("chatHeaderId", object_id(), key="chat_id"),
    # Kept exactly as sent: the service trims and counts.
    Field("message", text(), key="text"),
    Field("messageType", integer(min_value=0, max_value=max(MessageType.values)), key="message_type"),
    optional("caption", text()),
    optional("clientMessageId", text(max_length=64), key="client_message_id"),
    optional("replyToMessageId", object_id(), key="reply_to_id"),  # CONTRACT §9
)


def _page(data: dict) -> dict:
    def pick(name: str, alias: str):
        value = data.get(name)
        return value if value is not None else data.get(alias)

    # A cursor of 0 (what a client that has no messages yet tends to send) means "from the newest".
    limit = pick("maxResultCount", "MaxResultCount")
    return {
        "chat_id": data["chat_id"],
        "before_id": pick("lastMessageId", "LastMessageId") or None,
        "skip": pick("skipCount", "SkipCount") or 0,
        "limit": DEFAULT_PAGE_SIZE if limit is None else limit,  # the selector clamps it
    }


FindAllMessagesPayload = Shape(
    Field("chatHeaderId", object_id(), key="chat_id"),
    optional("lastMessageId", count()),
    optional("LastMessageId", count()),
    optional("skipCount", count()),
    optional("SkipCount", count()),
    optional("maxResultCount", count()),
    optional("MaxResultCount", count()),
    finish=_page,
)

UpdateMessagePayload = Shape(
    Field("id", object_id(), key="message_id"),
    Field("chatHeaderId", object_id(), key="chat_id"),
    Field("message", text(), key="text"),
    optional("caption", text()),
)


def _removal(data: dict) -> dict:
    # The spec: `ids` wins over `id` when both are given.
    ids = data.get("ids") or ([data["message_id"]] if data.get("message_id") is not None else [])
    if not ids:
        raise Bad("Give the message `id` or a list of `ids`.", ("ids",))
    return {"chat_id": data["chat_id"], "message_ids": ids}


RemoveMessagePayload = Shape(
    optional("id", object_id(), key="message_id"),
    optional("ids", list_of(object_id(), max_length=MAX_REMOVE_IDS)),
    Field("chatHeaderId", object_id(), key="chat_id"),
    finish=_removal,
)

ReadMessagePayload = Shape(Field("chatHeaderId", object_id(), key="chat_id"))
