"""Friendships over REST (CONTRACT §6): request, accept, reject, block, delete."""

from __future__ import annotations

import uuid

import pytest

from chat.models import Friendship, FriendshipStatus
from chat.services.chats import chat_direct_get_or_create
from tests.api.helpers import error, ok

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(make_user):
    return make_user("Alice", picture="https://example.com/a.png")


@pytest.fixture
def bob(make_user):
    return make_user("Bob")


@pytest.fixture
def carol(make_user):
    return make_user("Carol")


def request(api, user, other):
    return api(user).post("/api/friendships", {"userId": str(other.pk)}, format="json")


def act(api, user, other, verb):
    return api(user).post(f"/api/friendships/{other.pk}/{verb}")


def listing(api, user):
    return ok(api(user).get("/api/friendships"))


def test_request_then_accept(api, alice, bob):
    data = ok(request(api, alice, bob), 201)
    assert data == {
        "userId": str(bob.pk),
        "name": "Bob",
        "avatar": None,
        "status": 0,
        "direction": "outgoing",
        "chatHeaderId": None,
    }
    incoming = listing(api, bob)
    assert incoming == [
        {
            **data,
            "userId": str(alice.pk),
            "name": "Alice",
            "avatar": "https://example.com/a.png",
            "direction": "incoming",
        }
    ]
    accepted = ok(act(api, bob, alice, "accept"))
    assert accepted["status"] == 1 and accepted["direction"] == "incoming"
    assert [f["status"] for f in listing(api, alice)] == [1]


def test_chat_header_id_is_the_direct_chat(api, alice, bob):
    chat, _ = chat_direct_get_or_create(user=alice, other=bob)
    assert ok(request(api, alice, bob), 201)["chatHeaderId"] == chat.pk


def test_reject_and_ask_again(api, alice, bob):
    ok(request(api, alice, bob), 201)
    assert ok(act(api, bob, alice, "reject"))["status"] == 2
    assert ok(act(api, bob, alice, "reject"))["status"] == 2  # idempotent
    # The addressee may change their mind...
    assert ok(act(api, bob, alice, "accept"))["status"] == 1
    # ...and an accepted friendship cannot be "rejected": that is unfriending.
    error(act(api, bob, alice, "reject"), 400, "invalid")


def test_rejected_request_can_be_sent_again(api, alice, bob):
    ok(request(api, alice, bob), 201)
    ok(act(api, bob, alice, "reject"))
    again = ok(request(api, alice, bob), 201)
    assert again["status"] == 0 and again["direction"] == "outgoing"


def test_only_the_addressee_answers(api, alice, bob, carol):
    ok(request(api, alice, bob), 201)
    error(act(api, alice, bob, "accept"), 403, "forbidden")
    error(act(api, alice, bob, "reject"), 403, "forbidden")
    # A stranger has no request to answer.
    error(act(api, carol, alice, "accept"), 404, "not_found")
    error(act(api, carol, bob, "reject"), 404, "not_found")
    assert Friendship.objects.get().status == FriendshipStatus.PENDING


def test_repeated_and_crossed_requests(api, alice, bob):
    ok(request(api, alice, bob), 201)
    assert ok(request(api, alice, bob), 200)["status"] == 0  # already asked: nothing new
    # Bob asks Alice while her request is pending: both want it, so it is accepted.
    assert ok(request(api, bob, alice), 200)["status"] == 1
    assert ok(request(api, alice, bob), 200)["status"] == 1
    assert Friendship.objects.count() == 1


def test_block_wins_over_everything(api, alice, bob):
    ok(request(api, alice, bob), 201)
    ok(act(api, bob, alice, "accept"))
    blocked = ok(act(api, bob, alice, "block"))
    assert blocked["status"] == 3 and blocked["direction"] == "outgoing"
    assert listing(api, alice)[0]["direction"] == "incoming"
    row = Friendship.objects.get()
    assert row.blocked_by_id == bob.pk
    error(request(api, alice, bob), 403, "blocked")
    error(request(api, bob, alice), 403, "blocked")
    error(act(api, alice, bob, "accept"), 403, "blocked")
    # The blocked user cannot lift it; blocking back leaves the block with its owner.
    error(api(alice).delete(f"/api/friendships/{bob.pk}"), 403, "forbidden")
    assert ok(act(api, alice, bob, "block"))["status"] == 3
    assert Friendship.objects.get().blocked_by_id == bob.pk
    # The blocker unblocks: no relationship is left.
    assert ok(api(bob).delete(f"/api/friendships/{alice.pk}")) is None
    assert not Friendship.objects.exists()


def test_block_without_earlier_request(api, alice, carol):
    data = ok(act(api, alice, carol, "block"), 201)
    assert data["status"] == 3 and data["direction"] == "outgoing"
    assert ok(act(api, alice, carol, "block"), 200)["status"] == 3


@pytest.mark.parametrize("state", ["pending", "accepted", "rejected"])
def test_delete_unfriends_withdraws_or_declines(api, alice, bob, state):
    ok(request(api, alice, bob), 201)
    if state != "pending":
        ok(act(api, bob, alice, "accept" if state == "accepted" else "reject"))
    deleter = alice if state != "rejected" else bob
    other = bob if deleter is alice else alice
    assert ok(api(deleter).delete(f"/api/friendships/{other.pk}")) is None
    assert listing(api, alice) == [] and listing(api, bob) == []
    error(api(deleter).delete(f"/api/friendships/{other.pk}"), 404, "not_found")


def test_yourself_unknown_and_malformed_users(api, alice, settings):
    settings.CHAT_PROVISION_REFERENCED_USERS = False  # else a placeholder (tests/api/test_placeholder_users.py)
    assert error(request(api, alice, alice), 400, "invalid").startswith("userId:")
    error(api(alice).post("/api/friendships", {"userId": str(uuid.uuid4())}, format="json"), 404, "not_found")
    assert error(api(alice).post("/api/friendships", {"userId": "nope"}, format="json"), 400, "invalid").startswith(
        "userId:"
    )
    assert error(api(alice).post("/api/friendships", {}, format="json"), 400, "invalid").startswith("userId:")
    for verb in ("accept", "reject", "block"):
        error(api(alice).post(f"/api/friendships/{uuid.uuid4()}/{verb}"), 404, "not_found")
        error(api(alice).post(f"/api/friendships/not-a-guid/{verb}"), 404, "not_found")
        error(api(alice).post(f"/api/friendships/{alice.pk}/{verb}"), 400, "invalid")
    error(api(alice).delete("/api/friendships/not-a-guid"), 404, "not_found")


def test_strangers_see_nothing(api, alice, bob, carol):
    ok(request(api, alice, bob), 201)
    assert listing(api, carol) == []
    error(api(carol).delete(f"/api/friendships/{alice.pk}"), 404, "not_found")


def test_no_token(api, alice):
    for method, path in [
        ("get", "/api/friendships"),
        ("post", "/api/friendships"),
        ("post", f"/api/friendships/{alice.pk}/accept"),
        ("post", f"/api/friendships/{alice.pk}/reject"),
        ("post", f"/api/friendships/{alice.pk}/block"),
        ("delete", f"/api/friendships/{alice.pk}"),
    ]:
        error(getattr(api(), method)(path), 401, "unauthorized")


def test_list_is_two_queries(api, alice, make_user, django_assert_max_num_queries):
    for i in range(5):
        ok(request(api, alice, make_user(f"U{i}")), 201)
    client = api(alice)
    with django_assert_max_num_queries(4):  # user by token (+refresh), friendships, chats
        assert len(ok(client.get("/api/friendships"))) == 5
