"""CONTRACT §3: the handshake, over a real connection to a live server."""

import uuid

import pytest
import socketio

from chat.state.store import get_state
from chat.tokens import issue_token

pytestmark = pytest.mark.django_db(transaction=True)


def refusal_recorder():
    """A client that records the `connect_error` payloads the server sends (what a JS client sees)."""
    client = socketio.AsyncClient(reconnection=False)
    errors = []
    client.on("connect_error", errors.append)
    return client, errors


async def test_connect_with_token_in_auth_binds_presence(clients, make_user):
    alice = make_user("Alice")
    client = await clients(alice)
    assert client.sio.connected
    assert await get_state().presence.online_user_ids([alice.pk]) == {str(alice.pk)}


@pytest.mark.parametrize("where", ["query", "header", "auth_token", "bearer_prefix"])
async def test_token_accepted_from_every_documented_place(clients, make_user, where):
    alice = make_user("Alice")
    token = issue_token(alice.pk)
    kwargs = {
        "query": {"token": None, "auth": None, "query": {"accessToken": token}},
        "header": {"token": None, "headers": {"Authorization": f"Bearer {token}"}},
        "auth_token": {"token": None, "auth": {"token": token}},
        "bearer_prefix": {"token": f"Bearer {token}"},
    }[where]
    client = await clients(alice, **kwargs)
    assert client.sio.connected
    assert await get_state().presence.online_user_ids([alice.pk]) == {str(alice.pk)}


async def test_polling_transport_then_upgrade(clients, make_user):
    alice = make_user("Alice")
    client = await clients(alice, transports=("polling", "websocket"))
    assert client.sio.connected


async def test_tokenless_connect_is_accepted_but_unverified(clients, make_user):
    alice = make_user("Alice")
    client = await clients(alice, token=None)
    assert client.sio.connected
    assert await get_state().presence.online_user_ids([alice.pk]) == set()


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("bad_token", "not valid"),
        ("other_user", "another user"),
        ("expired", "expired"),
        ("no_user_id", "userId"),
        ("bad_user_id", "userId"),
    ],
)
async def test_refused_connections_tell_the_client_why(chat_server, make_user, case, reason):
    alice, bob = make_user("Alice"), make_user("Bob")
    query = {"userId": str(alice.pk)}
    token = issue_token(alice.pk)
    if case == "bad_token":
        token = token[:-4] + "AAAA"
    elif case == "other_user":
        token = issue_token(bob.pk)
    elif case == "expired":
        token = issue_token(alice.pk, ttl=-3600)
    elif case == "no_user_id":
        query = {}
    elif case == "bad_user_id":
        query = {"userId": "not-a-guid"}
    client, errors = refusal_recorder()
    qs = "&".join(f"{k}={v}" for k, v in query.items())
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(
            f"{chat_server.url}?{qs}", auth={"accessToken": token}, transports=["websocket"], wait_timeout=5
        )
    assert len(errors) == 1 and reason in errors[0]["message"]
    assert await get_state().presence.online_user_ids([alice.pk, bob.pk]) == set()


async def test_tokenless_refused_when_configured(chat_server, make_user, settings):
    settings.CHAT_REQUIRE_SOCKET_TOKEN = True
    client, errors = refusal_recorder()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(f"{chat_server.url}?userId={uuid.uuid4()}", transports=["websocket"], wait_timeout=5)
    assert errors == [{"message": "an access token is required"}]
