"""CONTRACT §3/§4: which user an event acts for, and how a tokenless socket gets verified.

Asked through a real event: getMyChats lists the user's one-to-one chats, each named after the other
user, and here Alice and Bob have one chat, with each other.
"""

import pytest

from chat.state.store import get_state
from chat.tokens import issue_token
from tests.sockets._message_helpers import direct_chat

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pair(make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    direct_chat(alice, bob)
    return alice, bob


async def who_am_i(client, payload: dict, pair) -> dict:
    """`{"userId": ...}` of the user getMyChats answered for, or its error."""
    ack = await client.call("getMyChats", payload)
    if not isinstance(ack, list):
        return ack
    (chat,) = ack
    (me,) = (user for user in pair if str(user.pk) != chat["userId"])
    return {"userId": str(me.pk)}


async def test_verified_socket_acts_for_its_user_without_payload_token(clients, pair):
    alice, _ = pair
    client = await clients(alice)
    assert await who_am_i(client, {}, pair) == {"userId": str(alice.pk)}
    assert await who_am_i(client, {"accessToken": issue_token(alice.pk)}, pair) == {"userId": str(alice.pk)}
    assert await who_am_i(client, {"AccessToken": f"Bearer {issue_token(alice.pk)}"}, pair) == {"userId": str(alice.pk)}


async def test_payload_token_of_another_user_is_forbidden_on_a_verified_socket(clients, pair):
    alice, bob = pair
    client = await clients(alice)
    ack = await who_am_i(client, {"accessToken": issue_token(bob.pk)}, pair)
    assert ack["code"] == "forbidden"


async def test_invalid_payload_token_is_unauthorized_and_a_non_string_one_invalid(clients, pair):
    client = await clients(pair[0])
    assert (await who_am_i(client, {"accessToken": "nonsense"}, pair))["code"] == "unauthorized"
    # A field of the wrong type is `invalid` (CONTRACT §4), the token field included.
    assert (await who_am_i(client, {"accessToken": 12}, pair))["code"] == "invalid"


async def test_tokenless_socket_is_bound_by_its_first_event_with_a_token(clients, pair):
    alice, _ = pair
    client = await clients(alice, token=None)
    assert (await who_am_i(client, {}, pair))["code"] == "unauthorized"
    assert await get_state().presence.online_user_ids([alice.pk]) == set()
    assert await who_am_i(client, {"accessToken": issue_token(alice.pk)}, pair) == {"userId": str(alice.pk)}
    assert await get_state().presence.online_user_ids([alice.pk]) == {str(alice.pk)}
    # From now on the socket is verified: no token needed.
    assert await who_am_i(client, {}, pair) == {"userId": str(alice.pk)}


async def test_tokenless_socket_cannot_be_bound_to_another_user(clients, pair):
    alice, bob = pair
    client = await clients(alice, token=None)
    ack = await who_am_i(client, {"accessToken": issue_token(bob.pk)}, pair)
    assert ack["code"] == "forbidden"
    assert await get_state().presence.online_user_ids([alice.pk, bob.pk]) == set()
