"""How long a socket's identity lasts and how many sockets one user may hold (CONTRACT §2, §11)."""

from __future__ import annotations

import asyncio
import time
from types import SimpleNamespace

import jwt
import pytest
import socketio

from chat.models import ChatMessage, User
from chat.state.store import get_state
from chat.tokens import issue_token
from tests.conftest import db_call
from tests.sockets._message_helpers import direct_chat
from tests.sockets.presence_support import state_until


async def wait_disconnected(client, timeout: float = 3) -> bool:
    """Whether the server disconnects `client` within `timeout` (`Client.until`: no polling)."""
    try:
        return await client.until(lambda: client.closed, timeout=timeout, what="the disconnect")
    except AssertionError:
        return False


@pytest.fixture
async def expired(clients, make_user, settings):
    """Alice's socket, connected with a token that has expired since (no leeway). The token lives two
    seconds: `exp` counts whole seconds, so a one-second token could expire before it is used."""
    settings.CHAT_JWT_LEEWAY = 0
    alice = make_user("Alice")
    token = issue_token(alice.pk, ttl=2)
    client = await clients(alice, token=token)
    assert isinstance(await client.call("getMyChats"), list)
    expires_at = jwt.decode(token, options={"verify_signature": False})["exp"]
    await asyncio.sleep(max(0.0, expires_at - time.time()) + 0.1)
    return SimpleNamespace(user=alice, token=token, client=client)


async def test_an_expired_socket_is_unauthorized_then_disconnected(expired, make_user):
    chat_id = direct_chat(expired.user, make_user("Bob"))
    ack = await expired.client.call("createMessage", {"chatHeaderId": chat_id, "message": "late", "messageType": 0})
    assert ack["code"] == "unauthorized", ack
    assert "expired" in ack["error"]
    assert await wait_disconnected(expired.client), "the server must disconnect a socket whose token expired"
    assert await get_state().presence.user_sids(str(expired.user.pk)) == set()
    assert await db_call(ChatMessage.objects.filter(chat_id=chat_id).count)() == 0


async def test_an_expired_socket_without_an_ack_hears_the_exception_then_goes(expired):
    await expired.client.sio.emit("getMyChats")
    exception = await expired.client.wait_for("exception")
    assert exception["code"] == "unauthorized" and exception["event"] == "getMyChats"
    assert await wait_disconnected(expired.client)


async def test_a_fresh_payload_token_renews_the_identity(expired):
    assert isinstance(await expired.client.call("getMyChats", {"accessToken": issue_token(expired.user.pk)}), list)
    # Renewed: events without a token work again.
    assert isinstance(await expired.client.call("getMyChats"), list)
    assert expired.client.sio.connected


async def test_an_expired_payload_token_on_an_expired_socket_ends_it(expired):
    ack = await expired.client.call("getMyChats", {"accessToken": expired.token})
    assert ack["code"] == "unauthorized"
    assert await wait_disconnected(expired.client)


async def test_a_user_holds_at_most_the_configured_number_of_sockets(chat_server, clients, make_user, settings):
    settings.CHAT_MAX_SOCKETS_PER_USER = 3
    alice = make_user("Alice")
    held = [await clients(alice) for _ in range(3)]
    extra = socketio.AsyncClient(reconnection=False)
    errors = []
    extra.on("connect_error", errors.append)
    with pytest.raises(socketio.exceptions.ConnectionError):
        await extra.connect(f"{chat_server.url}?userId={alice.pk}", auth={"accessToken": issue_token(alice.pk)})
    assert "at most 3" in errors[0]["message"]
    assert len(await get_state().presence.user_sids(str(alice.pk))) == 3
    # Another user is not affected, and a freed place can be taken again.
    await clients(make_user("Bob"))
    await held[0].disconnect()

    async def place_freed() -> bool:
        return len(await get_state().presence.user_sids(str(alice.pk))) == 2

    await state_until(place_freed)  # the server has handled the disconnect
    await clients(alice)
    assert len(await get_state().presence.user_sids(str(alice.pk))) == 3


async def test_unverified_sockets_take_no_places(clients, make_user, settings):
    """Anyone may open tokenless sockets with a victim's userId: they must not lock the victim out."""
    settings.CHAT_MAX_SOCKETS_PER_USER = 2
    victim = make_user("Victim")
    squatters = [await clients(victim, token=None) for _ in range(4)]
    assert await get_state().presence.user_sids(str(victim.pk)) == set()
    await clients(victim)
    # A tokenless socket that binds with a token counts from then on, and is refused when full.
    assert isinstance(await squatters[0].call("getMyChats", {"accessToken": issue_token(victim.pk)}), list)
    ack = await squatters[1].call("getMyChats", {"accessToken": issue_token(victim.pk)})
    assert ack["code"] == "unauthorized" and "at most 2" in ack["error"]
    assert len(await get_state().presence.user_sids(str(victim.pk))) == 2


@pytest.mark.redis
async def test_the_socket_limit_holds_in_redis(redis_url):
    from chat.state.presence import RedisPresence, SocketLimitReached

    store = RedisPresence(redis_url, prefix="test:limit")
    try:
        assert await store.add_socket("u", "s1", "web", limit=2) is True
        assert await store.add_socket("u", "s2", "web", limit=2) is False
        with pytest.raises(SocketLimitReached):
            await store.add_socket("u", "s3", "web", limit=2)
        assert await store.user_sids("u") == {"s1", "s2"}
        assert await store.add_socket("u", "s2", "web", limit=2) is False  # re-adding a held socket is fine
    finally:
        await store.reset()


@pytest.mark.parametrize(
    "event",
    ["createMessage", "findAllMessages", "updateMessage", "removeMessage", "readMessage"],
)
async def test_a_deactivation_no_service_saw_ends_the_session_at_the_next_event(clients, make_user, event):
    alice = make_user("Alice")
    chat_id = direct_chat(alice, make_user("Bob"))
    client = await clients(alice)
    sent = (await client.call("createMessage", {"chatHeaderId": chat_id, "message": "before", "messageType": 0}))[
        "chatMessage"
    ]
    # A database UPDATE: no signal, no service, nothing told the socket server.
    await db_call(User.objects.filter(pk=alice.pk).update)(is_active=False)
    payload = {
        "createMessage": {"chatHeaderId": chat_id, "message": "after", "messageType": 0},
        "findAllMessages": {"chatHeaderId": chat_id},
        "updateMessage": {"chatHeaderId": chat_id, "id": sent["id"], "message": "edited"},
        "removeMessage": {"chatHeaderId": chat_id, "id": sent["id"]},
        "readMessage": {"chatHeaderId": chat_id},
    }[event]
    ack = await client.call(event, payload)
    assert ack["code"] == "unauthorized" and "disabled" in ack["error"], ack
    assert await wait_disconnected(client)
    stored = await db_call(
        lambda: list(ChatMessage.objects.filter(chat_id=chat_id).values_list("message", "is_deleted"))
    )()
    assert stored == [("before", False)]


@pytest.mark.parametrize(
    ("event", "payload"),
    [
        ("joinRoom", {"chatHeaderId": 1}),
        ("leaveRoom", {"chatHeaderId": 1}),
        ("roomTyping", {"chatHeaderId": 1, "isTyping": True, "name": "A"}),
        ("findAllChatHeaders", {}),
        ("getMyFriendships", {}),
        ("getMyChats", {}),
    ],
)
async def test_room_and_list_events_also_end_a_deactivated_session(clients, make_user, event, payload):
    alice = make_user("Alice")
    client = await clients(alice)
    await db_call(User.objects.filter(pk=alice.pk).update)(is_active=False)
    ack = await client.call(event, payload)
    assert ack["code"] == "unauthorized" and "disabled" in ack["error"], ack
    assert await wait_disconnected(client)
