"""Group chats over REST (CONTRACT §6): create, add members, remove members or leave."""

from __future__ import annotations

import uuid

import pytest

from chat.models import ChatMember
from chat.services.chats import chat_direct_get_or_create
from tests.api.helpers import error, ok

pytestmark = pytest.mark.django_db


@pytest.fixture
def users(make_user):
    return [make_user(name) for name in ("Alice", "Bob", "Carol", "Dave")]


def create(api, creator, name="Team", members=()):
    return api(creator).post(
        "/api/chat/groups", {"name": name, "memberIds": [str(u.pk) for u in members]}, format="json"
    )


def members_url(chat_id, user=None):
    return f"/api/chat/groups/{chat_id}/members" + (f"/{user.pk}" if user is not None else "")


def admins(data) -> dict[str, bool]:
    return {m["name"]: m["isAdmin"] for m in data["members"]}


def test_create_makes_the_creator_admin(api, users):
    alice, bob, carol, _ = users
    data = ok(create(api, alice, "  Team  ", [bob, carol, bob, alice]), 201)
    assert data["chatType"] == 1 and data["name"] == "Team"
    assert admins(data) == {"Alice": True, "Bob": False, "Carol": False}
    assert data["lastMessage"] is None and data["unreadCount"] == 0


def test_create_validation(api, users, settings):
    settings.CHAT_PROVISION_REFERENCED_USERS = False  # else a placeholder (tests/api/test_placeholder_users.py)
    alice = users[0]
    assert error(create(api, alice, "   "), 400, "invalid").startswith("name:")
    assert error(api(alice).post("/api/chat/groups", {"memberIds": []}, format="json"), 400, "invalid").startswith(
        "name:"
    )
    assert error(api(alice).post("/api/chat/groups", {"name": 5}, format="json"), 400, "invalid").startswith("name:")
    bad = api(alice).post("/api/chat/groups", {"name": "T", "memberIds": ["x"]}, format="json")
    assert error(bad, 400, "invalid").startswith("memberIds:")
    unknown = api(alice).post("/api/chat/groups", {"name": "T", "memberIds": [str(uuid.uuid4())]}, format="json")
    assert error(unknown, 404, "not_found").startswith("memberIds:")
    # A group of one is allowed: members can be added later.
    assert len(ok(create(api, alice, "Solo"), 201)["members"]) == 1


def test_blocked_users_cannot_be_added(api, users):
    alice, bob, carol, _ = users
    ok(api(bob).post(f"/api/friendships/{alice.pk}/block"), 201)
    error(create(api, alice, "T", [bob]), 403, "blocked")
    group = ok(create(api, alice, "T", [carol]), 201)
    error(api(alice).post(members_url(group["id"]), {"userIds": [str(bob.pk)]}, format="json"), 403, "blocked")


def test_admins_add_members(api, users, settings):
    settings.CHAT_PROVISION_REFERENCED_USERS = False  # else a placeholder (tests/api/test_placeholder_users.py)
    alice, bob, carol, dave = users
    group = ok(create(api, alice, "T", [bob]), 201)
    data = ok(api(alice).post(members_url(group["id"]), {"userIds": [str(carol.pk), str(bob.pk)]}, format="json"))
    assert admins(data) == {"Alice": True, "Bob": False, "Carol": False}
    # Non-admin members may not add.
    error(api(bob).post(members_url(group["id"]), {"userIds": [str(dave.pk)]}, format="json"), 403, "forbidden")
    assert error(api(alice).post(members_url(group["id"]), {"userIds": []}, format="json"), 400, "invalid").startswith(
        "userIds:"
    )
    error(api(alice).post(members_url(group["id"]), {"userIds": [str(uuid.uuid4())]}, format="json"), 404, "not_found")


def test_non_members_get_403_whether_or_not_the_group_exists(api, users):
    alice, bob, carol, dave = users
    group = ok(create(api, alice, "T", [bob]), 201)
    body = {"userIds": [str(dave.pk)]}
    for chat_id in (group["id"], 999_999, "abc", 2**70, -1):
        error(api(carol).post(members_url(chat_id), body, format="json"), 403, "forbidden")
        error(api(carol).delete(members_url(chat_id, bob)), 403, "forbidden")
        error(api(carol).delete(members_url(chat_id, carol)), 403, "forbidden")
    # A one-to-one chat is not a group, even for its members.
    chat, _ = chat_direct_get_or_create(user=alice, other=bob)
    error(api(alice).post(members_url(chat.pk), body, format="json"), 403, "forbidden")
    error(api(alice).delete(members_url(chat.pk, bob)), 403, "forbidden")


def test_admins_remove_anyone_and_anyone_may_leave(api, users):
    alice, bob, carol, dave = users
    group = ok(create(api, alice, "T", [bob, carol, dave]), 201)
    gid = group["id"]
    error(api(bob).delete(members_url(gid, carol)), 403, "forbidden")
    data = ok(api(alice).delete(members_url(gid, carol)))
    assert "Carol" not in admins(data)
    assert ok(api(bob).delete(members_url(gid, bob))) is None  # leaving
    assert set(ChatMember.objects.filter(chat_id=gid).values_list("user__name", flat=True)) == {"Alice", "Dave"}
    error(api(alice).delete(members_url(gid, carol)), 404, "not_found")
    error(api(alice).delete(f"/api/chat/groups/{gid}/members/not-a-guid"), 404, "not_found")
    # The last admin leaves: the longest-standing member takes over.
    assert ok(api(alice).delete(members_url(gid, alice))) is None
    assert ChatMember.objects.get(chat_id=gid).is_admin
    error(api(alice).post(members_url(gid), {"userIds": [str(alice.pk)]}, format="json"), 403, "forbidden")


def test_no_token(api, users):
    alice, bob, *_ = users
    group = ok(create(api, alice, "T", [bob]), 201)
    error(api().post("/api/chat/groups", {"name": "T"}, format="json"), 401, "unauthorized")
    error(api().post(members_url(group["id"]), {"userIds": [str(bob.pk)]}, format="json"), 401, "unauthorized")
    error(api().delete(members_url(group["id"], bob)), 401, "unauthorized")
