"""CONTRACT §3/§4: which user an event acts for, and how a tokenless socket gets verified."""

import pytest

from chat.sockets.auth import event_user
from chat.sockets.server import on
from chat.state.store import get_state
from chat.tokens import issue_token

pytestmark = pytest.mark.django_db(transaction=True)


@on("testWhoAmI")
async def _who_am_i(sid, payload):
    user, _ = await event_user(sid, payload)
    return {"userId": str(user.pk)}


async def test_verified_socket_acts_for_its_user_without_payload_token(clients, make_user):
    alice = make_user("Alice")
    client = await clients(alice)
    assert await client.call("testWhoAmI", {}) == {"userId": str(alice.pk)}
    assert await client.call("testWhoAmI", {"accessToken": issue_token(alice.pk)}) == {"userId": str(alice.pk)}
    assert await client.call("testWhoAmI", {"AccessToken": f"Bearer {issue_token(alice.pk)}"}) == {
        "userId": str(alice.pk)
    }


async def test_payload_token_of_another_user_is_forbidden_on_a_verified_socket(clients, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    client = await clients(alice)
    ack = await client.call("testWhoAmI", {"accessToken": issue_token(bob.pk)})
    assert ack["code"] == "forbidden"


async def test_invalid_payload_token_is_unauthorized_and_a_non_string_one_invalid(clients, make_user):
    client = await clients(make_user("Alice"))
    assert (await client.call("testWhoAmI", {"accessToken": "nonsense"}))["code"] == "unauthorized"
    # A field of the wrong type is `invalid` (CONTRACT §4), the token field included.
    assert (await client.call("testWhoAmI", {"accessToken": 12}))["code"] == "invalid"


async def test_tokenless_socket_is_bound_by_its_first_event_with_a_token(clients, make_user):
    alice = make_user("Alice")
    client = await clients(alice, token=None)
    assert (await client.call("testWhoAmI", {}))["code"] == "unauthorized"
    assert await get_state().presence.online_user_ids([alice.pk]) == set()
    assert await client.call("testWhoAmI", {"accessToken": issue_token(alice.pk)}) == {"userId": str(alice.pk)}
    assert await get_state().presence.online_user_ids([alice.pk]) == {str(alice.pk)}
    # From now on the socket is verified: no token needed.
    assert await client.call("testWhoAmI", {}) == {"userId": str(alice.pk)}


async def test_tokenless_socket_cannot_be_bound_to_another_user(clients, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    client = await clients(alice, token=None)
    ack = await client.call("testWhoAmI", {"accessToken": issue_token(bob.pk)})
    assert ack["code"] == "forbidden"
    assert await get_state().presence.online_user_ids([alice.pk, bob.pk]) == set()
