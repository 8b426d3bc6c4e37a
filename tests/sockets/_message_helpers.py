"""Helpers shared by the message event tests (not collected: no `test_` prefix)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from chat.models import ChatMessage
from chat.selectors.chats import chat_header_dto_for
from chat.services.chats import chat_direct_get_or_create
from chat.services.friendships import friendship_block
from chat.services.groups import group_create
from tests.conftest import run_sync

MESSAGE_DTO_KEYS = {
    "id",
    "chatHeaderId",
    "userId",
    "message",
    "messageType",
    "caption",
    "clientMessageId",
    "creationTime",
    "lastModificationTime",
    "isEdited",
    "user",
    "seq",  # CONTRACT §9: the change feed's position of its latest change
    "reactions",  # CONTRACT §9: [{emoji, count, userIds}]
    "replyTo",  # CONTRACT §9: null or the answered message's preview
}


def direct_chat(user, other) -> int:
    chat, _ = run_sync(chat_direct_get_or_create, user=user, other=other)
    return chat.pk


def group_chat(creator, *members, name: str = "Group") -> int:
    """A group chat with `creator` as its admin, made as POST /api/chat/groups makes it."""
    return run_sync(lambda: group_create(creator=creator, name=name, member_ids=[m.pk for m in members]).pk)


def block(blocker, other) -> None:
    """`blocker` blocks `other`, as POST /api/friendships/<id>/block does."""
    run_sync(friendship_block, user=blocker, other=other)


def header(viewer, chat_id: int) -> dict:
    """The chat's ChatHeaderDto as `viewer` sees it (its unread count, last message; presence not filled in)."""
    return run_sync(chat_header_dto_for, viewer=viewer, chat_id=chat_id).value


def stored(chat_id: int, **filters) -> list[ChatMessage]:
    return run_sync(lambda: list(ChatMessage.objects.filter(chat_id=chat_id, **filters).order_by("id")))


async def join(client, chat_id: int) -> None:
    """Put a client's socket in the chat's room, where the message events fan out to: joinRoom."""
    ack = await client.call("joinRoom", {"chatHeaderId": chat_id})
    assert ack.get("joined") is True, ack


async def send(client, chat_id: int, text: str = "hello", **extra) -> dict:
    ack = await client.call("createMessage", {"chatHeaderId": chat_id, "message": text, "messageType": 0, **extra})
    assert "chatMessage" in ack, ack
    return ack["chatMessage"]


def assert_message_dto(dto: dict) -> None:
    """The exact MessageDto of CONTRACT §5, with its types."""
    assert set(dto) == MESSAGE_DTO_KEYS, dto
    assert isinstance(dto["id"], int) and not isinstance(dto["id"], bool)
    assert isinstance(dto["chatHeaderId"], int)
    assert isinstance(dto["userId"], str)
    assert isinstance(dto["message"], str)
    assert dto["messageType"] in {0, 1, 2, 3, 4}
    assert isinstance(dto["caption"], str)
    assert dto["clientMessageId"] is None or isinstance(dto["clientMessageId"], str)
    assert isinstance(dto["creationTime"], str) and dto["creationTime"].endswith("Z")
    assert dto["lastModificationTime"] is None or dto["lastModificationTime"].endswith("Z")
    assert isinstance(dto["isEdited"], bool)
    assert isinstance(dto["seq"], int) and dto["seq"] > 0
    assert set(dto["user"]) == {"id", "name", "avatar"}
    assert dto["user"]["id"] == dto["userId"]
    assert isinstance(dto["reactions"], list)
    for reaction in dto["reactions"]:
        assert set(reaction) == {"emoji", "count", "userIds"} and reaction["count"] >= len(reaction["userIds"]) > 0
    reply = dto["replyTo"]
    assert reply is None or set(reply) == {"id", "userId", "messageType", "message", "caption", "isDeleted"}


async def make_scene(clients, make_user) -> SimpleNamespace:
    """Alice and Bob share a chat. Each has one socket in its room (a1, b1) and one that is not (a2, b2);
    Carol (c1) is a connected stranger, in a room of her own."""
    alice, bob, carol = make_user("Alice"), make_user("Bob"), make_user("Carol")
    chat_id = direct_chat(alice, bob)
    a1, a2, b1, b2, c1 = [await clients(u) for u in (alice, alice, bob, bob, carol)]
    await join(a1, chat_id)
    await join(b1, chat_id)
    await join(c1, direct_chat(carol, alice))
    return SimpleNamespace(alice=alice, bob=bob, carol=carol, chat_id=chat_id, a1=a1, a2=a2, b1=b1, b2=b2, c1=c1)


async def on_server_loop(coro):
    """Run `coro` on the live server's event loop (another thread of this process) and await it."""
    from chat.events import bridge

    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro, bridge.loop))


async def joined_group(clients, make_user, size: int) -> tuple[int, list, list]:
    """A group of `size` new users, each with a connected socket that joined its room: (chat id, users,
    sockets)."""
    users = [make_user(f"Member {i}") for i in range(size)]
    chat_id = group_chat(users[0], *users[1:])
    sockets = [await clients(user) for user in users]
    for client in sockets:
        await join(client, chat_id)
    return chat_id, users, sockets
