"""CONTRACT §2 over REST: naming a GUID this server never saw (getChatHeaderAsync, a friend request,
group members) makes a placeholder user that their first token fills in."""

from __future__ import annotations

import uuid

import pytest

from chat.models import ChatHeader, Friendship, User
from chat.services.users import user_deactivate
from chat.tokens import issue_token
from tests.api.helpers import error, ok

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice(make_user):
    return make_user("Alice")


def header(api, me, other_id):
    return api(me).get("/api/chat/getChatHeaderAsync", {"user1Id": str(me.pk), "user2Id": str(other_id)})


def test_get_chat_header_with_a_user_never_seen(api, alice):
    bob_id = uuid.uuid4()
    data = ok(header(api, alice, bob_id))
    assert data["chatType"] == 0 and data["name"] is None and data["avatar"] is None
    bob = next(m for m in data["members"] if m["userId"] == str(bob_id))
    assert (bob["name"], bob["avatar"], bob["isOnline"]) == (None, None, False)
    # Bob's first token fills him in; the same chat now carries his name.
    client = api()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {issue_token(bob_id, name='Bob', picture='https://x.example/b.png')}"
    )
    ok(client.get("/api/friendships"))
    again = ok(header(api, alice, bob_id))
    assert again["id"] == data["id"] and (again["name"], again["avatar"]) == ("Bob", "https://x.example/b.png")
    assert ChatHeader.objects.count() == 1 and User.objects.count() == 2


def test_friend_request_to_a_user_never_seen_waits_for_them(api, alice):
    bob_id = uuid.uuid4()
    data = ok(api(alice).post("/api/friendships", {"userId": str(bob_id)}, format="json"), 201)
    assert (data["userId"], data["name"], data["avatar"], data["status"]) == (str(bob_id), None, None, 0)
    bob = api()
    bob.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_token(bob_id, name='Bob')}")
    [incoming] = ok(bob.get("/api/friendships"))
    assert (incoming["userId"], incoming["name"], incoming["direction"]) == (str(alice.pk), "Alice", "incoming")
    accepted = ok(bob.post(f"/api/friendships/{alice.pk}/accept"))
    assert accepted["status"] == 1
    assert Friendship.objects.get().status == 1


def test_groups_with_members_never_seen(api, alice, make_user):
    carol = make_user("Carol")
    new = [uuid.uuid4(), uuid.uuid4()]
    group = ok(
        api(alice).post("/api/chat/groups", {"name": "T", "memberIds": [str(new[0]), str(carol.pk)]}, format="json"),
        201,
    )
    assert {m["userId"]: m["name"] for m in group["members"]} == {
        str(alice.pk): "Alice",
        str(new[0]): None,
        str(carol.pk): "Carol",
    }
    added = ok(api(alice).post(f"/api/chat/groups/{group['id']}/members", {"userIds": [str(new[1])]}, format="json"))
    assert str(new[1]) in {m["userId"] for m in added["members"]}
    assert User.objects.filter(pk__in=new, name="").count() == 2


def test_provisioning_off_answers_not_found_and_creates_nothing(api, alice, settings):
    settings.CHAT_PROVISION_REFERENCED_USERS = False
    error(header(api, alice, uuid.uuid4()), 404, "not_found")
    error(api(alice).post("/api/friendships", {"userId": str(uuid.uuid4())}, format="json"), 404, "not_found")
    unknown = api(alice).post("/api/chat/groups", {"name": "T", "memberIds": [str(uuid.uuid4())]}, format="json")
    error(unknown, 404, "not_found")
    assert User.objects.count() == 1 and ChatHeader.objects.count() == 0


def test_malformed_ids_stay_invalid(api, alice):
    assert error(header(api, alice, "not-a-guid"), 400, "invalid").startswith("user2Id:")
    error(api(alice).post("/api/friendships", {"userId": "nope"}, format="json"), 400, "invalid")
    error(api(alice).post("/api/chat/groups", {"name": "T", "memberIds": ["x"]}, format="json"), 400, "invalid")
    assert User.objects.count() == 1


def test_a_deactivated_user_is_no_placeholder(api, alice, make_user):
    gone = make_user("Gone")
    user_deactivate(user_id=gone.pk)
    error(header(api, alice, gone.pk), 404, "not_found")
    error(api(alice).post("/api/friendships", {"userId": str(gone.pk)}, format="json"), 404, "not_found")


def test_a_rate_limited_call_leaves_no_placeholder_behind(api, alice, settings):
    """The limit is asked before a user row is made: a refused call creates nothing at all."""
    settings.CHAT_RATE_LIMIT_NEW_CHATS = "1/1min"
    settings.CHAT_RATE_LIMIT_FRIEND_REQUESTS = "1/1min"
    ok(header(api, alice, uuid.uuid4()))
    ok(api(alice).post("/api/friendships", {"userId": str(uuid.uuid4())}, format="json"), 201)
    assert User.objects.count() == 3
    error(header(api, alice, uuid.uuid4()), 429, "rate_limited")
    error(api(alice).post("/api/friendships", {"userId": str(uuid.uuid4())}, format="json"), 429, "rate_limited")
    assert User.objects.count() == 3 and ChatHeader.objects.count() == 1 and Friendship.objects.count() == 1
