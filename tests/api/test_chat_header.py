"""GET /api/chat/getChatHeaderAsync (CONTRACT §6): the spec's REST way to get or create a direct chat."""

from __future__ import annotations

import uuid

import pytest

from chat.models import ChatHeader
from chat.services.chats import chat_direct_get_or_create
from tests.api.helpers import error, ok

pytestmark = pytest.mark.django_db
URL = "/api/chat/getChatHeaderAsync"


@pytest.fixture
def alice(make_user):
    return make_user("Alice")


@pytest.fixture
def bob(make_user):
    return make_user("Bob", picture="https://example.com/bob.png")


def get(client, a, b):
    return client.get(URL, {"user1Id": str(getattr(a, "pk", a)), "user2Id": str(getattr(b, "pk", b))})


def test_creates_once_then_gets(api, alice, bob):
    data = ok(get(api(alice), alice, bob))
    assert data["chatType"] == 0
    assert data["name"] == "Bob" and data["avatar"] == "https://example.com/bob.png"  # named after the other
    assert {m["userId"] for m in data["members"]} == {str(alice.pk), str(bob.pk)}
    assert data["lastMessage"] is None and data["unreadCount"] == 0
    # Either user, either order: the same chat, and the same one joinRoom uses.
    assert ok(get(api(bob), alice, bob))["id"] == data["id"]
    assert ok(get(api(alice), bob, alice))["id"] == data["id"]
    assert chat_direct_get_or_create(user=bob, other=alice)[0].pk == data["id"]
    assert ChatHeader.objects.count() == 1


def test_only_for_one_of_the_two(api, alice, bob, make_user):
    carol = make_user("Carol")
    chat_direct_get_or_create(user=alice, other=bob)
    error(get(api(carol), alice, bob), 403, "forbidden")
    error(get(api(carol), alice, uuid.uuid4()), 403, "forbidden")
    assert ChatHeader.objects.count() == 1


def test_bad_parameters(api, alice, settings):
    settings.CHAT_PROVISION_REFERENCED_USERS = False  # else a placeholder (tests/api/test_placeholder_users.py)
    client = api(alice)
    error(get(client, alice, uuid.uuid4()), 404, "not_found")
    assert error(get(client, alice, alice), 400, "invalid").startswith("user2Id:")
    assert error(client.get(URL, {"user1Id": str(alice.pk)}), 400, "invalid").startswith("user2Id:")
    assert error(client.get(URL, {"user1Id": "x", "user2Id": str(alice.pk)}), 400, "invalid").startswith("user1Id:")


def test_no_token(api, alice, bob):
    error(get(api(), alice, bob), 401, "unauthorized")
    error(api().get(URL, HTTP_AUTHORIZATION="Token abc"), 401, "unauthorized")
    assert not ChatHeader.objects.exists()
