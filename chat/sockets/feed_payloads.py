"""Payload shapes of the change-feed events (CONTRACT §9): `sync` and `markDelivered`. Shape only; the
selector clamps `limit`, the service clamps `lastMessageId` to the chat's newest message."""

from __future__ import annotations

from chat.selectors.changes import DEFAULT_SYNC_LIMIT
from chat.validation import Field, Shape, count, integer, object_id, optional


def _sync(data: dict) -> dict:
    limit = data.get("limit")
    return {"since": data["since"], "limit": DEFAULT_SYNC_LIMIT if limit is None else limit}


SyncPayload = Shape(
    # Required, and null means "from now": a client that never synced starts with the current cursor.
    Field("since", count(), nullable=True),
    optional("limit", integer(min_value=1)),
    finish=_sync,
)

MarkDeliveredPayload = Shape(
    Field("chatHeaderId", object_id(), key="chat_id"),
    Field("lastMessageId", object_id(), key="last_message_id"),
)
