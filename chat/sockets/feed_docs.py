"""Descriptions of the change-feed events (CONTRACT §9) for the registry (chat/sockets/registry.py)."""

from __future__ import annotations

from chat.selectors.changes import MAX_SYNC_LIMIT
from chat.sockets import feed_payloads as fp
from chat.sockets.event_docs import ALICE, BOB, MESSAGE_EXAMPLE
from chat.sockets.registry import ClientEvent, component, nullable, obj, server_event

_ID = {"type": "integer", "minimum": 1}
_SEQ = {"type": "integer", "minimum": 0}
_CHANGE_TYPES = [
    "message.created",
    "message.updated",
    "message.deleted",
    "message.reactions",
    "chat.read",
    "chat.delivered",
    "member.joined",
    "member.left",
    "chat.created",
    "chat.settings",
    "friendship.changed",
]
CHANGE = component(
    "Change",
    obj(
        seq={**_SEQ, "minimum": 1},
        type={"type": "string", "enum": _CHANGE_TYPES},
        chatHeaderId=nullable(_ID),
        at={"type": "string", "format": "date-time"},
        data={
            "description": "by type: MessageDto; MessageDto; {messageId}; {messageId, reactions}; {userId, "
            "lastReadMessageId}; {userId, lastDeliveredMessageId}; MemberDto; {userId}; ChatHeaderDto; "
            "{mutedUntil}; the REST friendship item (status and direction null once there is none)"
        },
    ),
)
SYNC_ACK = component(
    "SyncAck",
    {
        "oneOf": [
            obj(changes={"type": "array", "items": CHANGE}, cursor=_SEQ, hasMore={"type": "boolean"}),
            obj(resyncRequired={"type": "boolean", "const": True}, cursor=_SEQ),
        ]
    },
)
MESSAGE_DELIVERED = component(
    "MessageDeliveredEvent",
    obj(chatHeaderId=_ID, userId={"type": "string", "format": "uuid"}, lastDeliveredMessageId=nullable(_ID)),
)

SYNC = ClientEvent(
    summary="The changes of everything the user can see since a cursor, oldest first (reconnect without loss).",
    payload=fp.SyncPayload,
    ack=SYNC_ACK,
    example={"since": 1200, "limit": 200},
    ack_example={
        "changes": [
            {
                "seq": 1201,
                "type": "message.created",
                "chatHeaderId": 7,
                "at": "2026-12-01T17:30:00.000Z",
                "data": {**MESSAGE_EXAMPLE, "seq": 1201},
            },
            {
                "seq": 1202,
                "type": "chat.read",
                "chatHeaderId": 7,
                "at": "2026-12-01T17:30:02.000Z",
                "data": {"userId": BOB, "lastReadMessageId": 42},
            },
        ],
        "cursor": 1202,
        "hasMore": False,
    },
    rules=f"`since` is required: null answers no changes and the current cursor. `limit` 1..{MAX_SYNC_LIMIT} "
    "(default 200; more is clamped). Keep the `cursor` of the last answer and call again while `hasMore`. "
    "A cursor older than CHAT_SYNC_RETENTION_DAYS answers `{resyncRequired: true, cursor}`: reload the lists, "
    "then go on from that cursor. A member removed from a group gets its own `member.left` and nothing of "
    "that chat after it.",
)
MARK_DELIVERED = ClientEvent(
    summary="Move the user's delivered mark in a chat (the messages reached this device).",
    payload=fp.MarkDeliveredPayload,
    ack=obj(chatHeaderId=_ID, lastDeliveredMessageId=nullable(_ID)),
    example={"chatHeaderId": 7, "lastMessageId": 42},
    ack_example={"chatHeaderId": 7, "lastDeliveredMessageId": 42},
    errors=("forbidden", "rate_limited"),
    rules="A high-water mark: an id below it changes nothing, one past the newest message is clamped to it; "
    "null in a chat without messages. `readMessage` moves it too. Counts against CHAT_RATE_LIMIT_READS.",
    emits=("messageDelivered",),
)

server_event(
    "messageDelivered",
    summary="A member's delivered mark moved (markDelivered, or readMessage past it).",
    payload=MESSAGE_DELIVERED,
    example={"chatHeaderId": 7, "userId": ALICE, "lastDeliveredMessageId": 42},
    audience="the chat's room (not across a block)",
)
