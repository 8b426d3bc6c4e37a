"""Descriptions of the socket events (CONTRACT §4, §5) for the registry (chat/sockets/registry.py).

Each client event's `ClientEvent` is handed to the `@on(...)` that installs its handler; the server
events are registered here with `server_event`. The payload schemas come from the same `Shape`s the
handlers validate with; the ack and event schemas from the DTOs' OpenAPI twins (chat/dtos.py).
"""

from __future__ import annotations

from chat.sockets import message_payloads as mp
from chat.sockets import room_payloads as rp
from chat.sockets.registry import (
    CHAT_HEADER,
    EXCEPTION,
    MEMBER,
    MESSAGE,
    ClientEvent,
    array,
    component,
    nullable,
    obj,
    server_event,
)

ALICE = "550e8400-e29b-41d4-a716-446655440000"
BOB = "550e8400-e29b-41d4-a716-446655440001"
_USER = {"id": ALICE, "name": "Alice", "avatar": None}
MESSAGE_EXAMPLE = {
    "id": 42,
    "chatHeaderId": 7,
    "userId": ALICE,
    "message": "Hello Bob",
    "messageType": 0,
    "caption": "",
    "clientMessageId": "c-1f3a",
    "creationTime": "2026-12-01T17:30:00.000Z",
    "lastModificationTime": None,
    "isEdited": False,
    "user": _USER,
    "seq": 1201,
    "reactions": [{"emoji": "👍", "count": 1, "userIds": [BOB]}],
    "replyTo": None,
}
_MEMBER_EXAMPLE = {
    "userId": BOB,
    "name": "Bob",
    "avatar": None,
    "isOnline": True,
    "isViewingChat": True,
    "lastReadMessageId": 41,
    "isAdmin": False,
    "lastDeliveredMessageId": 42,
    "lastSeen": None,
}
_HEADER_EXAMPLE = {
    "id": 7,
    "chatType": 0,
    "name": "Bob",
    "avatar": None,
    "creationTime": "2026-11-30T09:00:00.000Z",
    "lastMessage": MESSAGE_EXAMPLE,
    "lastMessageTime": "2026-12-01T17:30:00.000Z",
    "unreadCount": 0,
    "members": [_MEMBER_EXAMPLE],
    "mutedUntil": None,
}

_ID = {"type": "integer", "minimum": 1}
_GUID = {"type": "string", "format": "uuid"}
_TIME = {"type": "string", "format": "date-time"}
_FRIENDSHIP_STATUS = {"type": "integer", "minimum": 0, "maximum": 3, "description": "0..3, null for groups"}

PAGE_OF_MESSAGES = component("MessagePage", obj(items=array(MESSAGE), totalCount={"type": "integer", "minimum": 0}))
_HEADER_WITH_NEW = {
    "allOf": [
        CHAT_HEADER,
        {
            "type": "object",
            "properties": {
                "newMessages": {
                    **array(MESSAGE),
                    "description": "only for rooms named in RoomsWithLastMessageIds: messages above that id, "
                    "oldest first, at most 100",
                }
            },
        },
    ]
}
PAGE_OF_HEADERS = component(
    "ChatHeaderPage", obj(items=array(_HEADER_WITH_NEW), totalCount={"type": "integer", "minimum": 0})
)
JOIN_ROOM_ACK = component(
    "JoinRoomAck",
    obj(
        chatHeaderId=_ID,
        joined={"type": "boolean", "const": True},
        roomMembers=array(MEMBER),
        members={**array(MEMBER), "description": "the same list as roomMembers: clients read either name"},
        currentMember=MEMBER,
        friendshipStatus=nullable(_FRIENDSHIP_STATUS),
        chatHeader=CHAT_HEADER,
    ),
)
TYPING = component(
    "TypingEvent",
    obj(name={"type": "string"}, isTyping={"type": "boolean"}, chatHeaderId=_ID, userId=_GUID),
)
FRIEND = component(
    "FriendDto",
    obj(
        userId=_GUID,
        name=nullable({"type": "string"}),
        avatar=nullable({"type": "string"}),
        isOnline={"type": "boolean"},
        chatHeaderId=nullable(_ID),
        lastSeen=nullable({**_TIME, "description": "when their last socket closed; null while online or never seen"}),
    ),
)
DIRECT_CHAT = component(
    "DirectChatDto",
    obj(
        chatHeaderId=_ID,
        userId=_GUID,
        userName=nullable({"type": "string"}),
        userAvatar=nullable({"type": "string"}),
        lastMessage=nullable({"type": "string", "description": "the raw content: a file path for media"}),
        lastMessageTime=nullable(_TIME),
        creationTime=_TIME,
        isOnline={"type": "boolean"},
        unreadCount={"type": "integer", "minimum": 0},
        friendshipStatus=nullable(_FRIENDSHIP_STATUS),
        mutedUntil=nullable({**_TIME, "description": "the caller's mute; 9999-12-31T23:59:59Z: until unmuted"}),
        lastSeen=nullable({**_TIME, "description": "the other user's; null while online, never seen, or blocked"}),
    ),
)
MESSAGE_READ = component(
    "MessageReadEvent", obj(chatHeaderId=_ID, userId=_GUID, lastReadMessageId=nullable({"type": "integer"}))
)
MEMBER_JOIN = component("MemberJoinEvent", {"allOf": [MEMBER, obj(chatHeaderId=_ID)]})
CLIENT_STATUS = component(
    "ClientStatusEvent",
    obj(userId=_GUID, clientType={"type": "string"}, activeNow={"type": "boolean"}),
)


# --- client events -----------------------------------------------------------------------------------

CREATE_MESSAGE = ClientEvent(
    summary="Send a message to a chat the user is a member of.",
    payload=mp.CreateMessagePayload,
    ack=obj(chatMessage=MESSAGE),
    example={"chatHeaderId": 7, "message": "Hello Bob", "messageType": 0, "clientMessageId": "c-1f3a"},
    ack_example={"chatMessage": MESSAGE_EXAMPLE},
    errors=("forbidden", "blocked", "rate_limited"),
    rules="Text: 1..CHAT_MAX_MESSAGE_LENGTH characters after trimming. Media types (1-4): `message` is a path "
    "that POST /api/chat/uploadFile returned for the same type. `caption` at most 1000 characters. The same "
    "`clientMessageId` retried gets the original message back; nothing new is stored or broadcast.",
    emits=("message",),
)
FIND_ALL_MESSAGES = ClientEvent(
    summary="A page of a chat's history, newest first.",
    payload=mp.FindAllMessagesPayload,
    ack=PAGE_OF_MESSAGES,
    example={"chatHeaderId": 7, "lastMessageId": 43, "maxResultCount": 50},
    ack_example={"items": [MESSAGE_EXAMPLE], "totalCount": 1},
    errors=("forbidden",),
    rules="Either spelling of each field (`skipCount`/`SkipCount`...). `lastMessageId` 0 or null: from the newest. "
    "`maxResultCount` defaults to 50 and is clamped to 100. `totalCount` counts every visible message.",
)
UPDATE_MESSAGE = ClientEvent(
    summary="Edit one's own message.",
    payload=mp.UpdateMessagePayload,
    ack=MESSAGE,
    example={"id": 42, "chatHeaderId": 7, "message": "Hello Bob!"},
    ack_example={**MESSAGE_EXAMPLE, "message": "Hello Bob!", "isEdited": True},
    errors=("forbidden", "blocked", "rate_limited"),
    rules="Author only, not deleted. Media messages: only `caption` changes. A `caption` left out is kept.",
    emits=("messageUpdated",),
)
REMOVE_MESSAGE = ClientEvent(
    summary="Delete one's own messages (soft delete: moderators still see them).",
    payload=mp.RemoveMessagePayload,
    ack=obj(deletedIds=array(_ID)),
    example={"ids": [42, 43], "chatHeaderId": 7},
    ack_example={"deletedIds": [42, 43]},
    errors=("forbidden", "rate_limited"),
    rules="`id` or `ids` (at most 100; `ids` wins). Every id must be the user's, in that chat, or nothing is "
    "deleted (`forbidden`).",
    emits=("messageDeleted",),
)
READ_MESSAGE = ClientEvent(
    summary="Mark everything in a chat read, up to its newest message.",
    payload=mp.ReadMessagePayload,
    ack=obj(chatHeaderId=_ID, lastReadMessageId=nullable(_ID), unreadCount={"type": "integer", "const": 0}),
    example={"chatHeaderId": 7},
    ack_example={"chatHeaderId": 7, "lastReadMessageId": 43, "unreadCount": 0},
    errors=("forbidden", "rate_limited"),
    rules="The read mark only moves forward; in a chat without messages `lastReadMessageId` is null.",
    emits=("messageHasBeenRead", "messageRead"),
)
JOIN_ROOM = ClientEvent(
    summary="Open a chat: join its room (to hear its events) and mark this socket as viewing it.",
    payload=rp.JoinRoomPayload,
    ack=JOIN_ROOM_ACK,
    example={"chatHeaderId": 7},
    ack_example={
        "chatHeaderId": 7,
        "joined": True,
        "roomMembers": [_MEMBER_EXAMPLE],
        "members": [_MEMBER_EXAMPLE],
        "currentMember": {**_MEMBER_EXAMPLE, "userId": ALICE, "name": "Alice"},
        "friendshipStatus": 1,
        "chatHeader": _HEADER_EXAMPLE,
    },
    errors=("forbidden", "not_found", "blocked", "rate_limited"),
    rules="`chatHeaderId` (a member's chat) or `otherUserId` (gets or creates the one-to-one chat with that "
    "user; creating one counts against CHAT_RATE_LIMIT_NEW_CHATS). A `userId` other than the token's: "
    "`forbidden`.",
    emits=("onMemberJoin",),
)
LEAVE_ROOM = ClientEvent(
    summary="Leave a chat's room and stop viewing it (idempotent).",
    payload=rp.LeaveRoomPayload,
    ack=obj(chatHeaderId=_ID, left={"type": "boolean", "const": True}),
    example={"chatHeaderId": 7},
    ack_example={"chatHeaderId": 7, "left": True},
    errors=("forbidden",),
    emits=("typing",),
)
ROOM_TYPING = ClientEvent(
    summary="Tell the chat's other sockets that the user started or stopped typing.",
    payload=rp.RoomTypingPayload,
    ack=TYPING,
    example={"chatHeaderId": 7, "isTyping": True, "name": "Alice"},
    ack_example={"name": "Alice", "isTyping": True, "chatHeaderId": 7, "userId": ALICE},
    errors=("forbidden", "blocked", "rate_limited"),
    rules="The announced `name` is the user's stored name, not the one sent. A stop of this socket's own "
    "typing is never rate limited.",
    emits=("typing",),
)
FIND_ALL_CHAT_HEADERS = ClientEvent(
    summary="The user's chats, most recent activity first, with catch-up for rooms the client already has.",
    payload=rp.FindAllChatHeadersPayload,
    ack=PAGE_OF_HEADERS,
    example={
        "SkipCount": 0,
        "MaxResultCount": 20,
        "RoomsWithLastMessageIds": [{"ChatHeaderId": 7, "LastMessageId": 41}],
    },
    ack_example={"items": [{**_HEADER_EXAMPLE, "newMessages": [MESSAGE_EXAMPLE]}], "totalCount": 1},
    errors=("forbidden",),
    rules="`MaxResultCount` defaults to 20, clamped to 100. A `UserId`/`userId` other than the token's user: "
    "`forbidden`.",
)
GET_MY_FRIENDSHIPS = ClientEvent(
    summary="The user's accepted friends.",
    payload=rp.TokenOnlyPayload,
    ack=array(FRIEND),
    example={},
    ack_example=[{"userId": BOB, "name": "Bob", "avatar": None, "isOnline": True, "chatHeaderId": 7, "lastSeen": None}],
)
GET_MY_CHATS = ClientEvent(
    summary="The user's one-to-one chats, most recent message first.",
    payload=rp.TokenOnlyPayload,
    ack=array(DIRECT_CHAT),
    example={},
    ack_example=[
        {
            "chatHeaderId": 7,
            "userId": BOB,
            "userName": "Bob",
            "userAvatar": None,
            "lastMessage": "Hello Bob",
            "lastMessageTime": "2026-12-01T17:30:00.000Z",
            "creationTime": "2026-11-30T09:00:00.000Z",
            "isOnline": True,
            "unreadCount": 0,
            "friendshipStatus": 1,
            "mutedUntil": None,
            "lastSeen": None,
        }
    ],
)


# --- server events -------------------------------------------------------------------------------------

_ROOM = "every socket that joined the chat's room"
server_event(
    "message",
    summary="A new message in a chat.",
    payload=obj(chatMessage=MESSAGE),
    example={"chatMessage": MESSAGE_EXAMPLE},
    audience=_ROOM + ", the sender's included",
)
server_event(
    "messageUpdated",
    summary="A message was edited.",
    payload=MESSAGE,
    example={**MESSAGE_EXAMPLE, "message": "Hello Bob!", "isEdited": True},
    audience=_ROOM,
)
server_event(
    "messageDeleted",
    summary="A message was deleted (by its author or a moderator). The id is the event's only argument.",
    payload={**_ID, "description": "the message id"},
    example=42,
    audience=_ROOM,
)
server_event(
    "messageHasBeenRead",
    summary="Someone read a chat. The chat id is the event's only argument; `messageRead` follows with details.",
    payload={**_ID, "description": "the chat id"},
    example=7,
    audience=_ROOM + " (not across a block)",
)
server_event(
    "messageRead",
    summary="Who read a chat, up to which message (beyond the spec).",
    payload=MESSAGE_READ,
    example={"chatHeaderId": 7, "userId": BOB, "lastReadMessageId": 43},
    audience="the same sockets as messageHasBeenRead, right after it",
)
server_event(
    "typing",
    summary="A member started or stopped typing.",
    payload=TYPING,
    example={"name": "Alice", "isTyping": True, "chatHeaderId": 7, "userId": ALICE},
    audience="the room's other sockets (the typist's other tabs included; not across a block)",
)
server_event(
    "onMemberJoin",
    summary="A member opened the chat, or was added to a group.",
    payload=MEMBER_JOIN,
    example={**_MEMBER_EXAMPLE, "chatHeaderId": 7},
    audience="the room's other sockets (not across a block)",
)
server_event(
    "clientStatus",
    summary="A contact came online or went offline.",
    payload=CLIENT_STATUS,
    example={"userId": BOB, "clientType": "web", "activeNow": True},
    audience="the user's friends and the members of their chats (not across a block)",
)
server_event(
    "exception",
    summary="The error answer of an event sent without an acknowledgement callback.",
    payload=EXCEPTION,
    example={"error": "chatHeaderId: This field is required.", "code": "invalid", "event": "createMessage"},
    audience="the socket that sent the event",
)
