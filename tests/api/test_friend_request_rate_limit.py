"""CONTRACT §11: friend requests are rate limited per user (CHAT_RATE_LIMIT_FRIEND_REQUESTS, 20/min); REST 429."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync

from chat.models import Friendship
from chat.state.store import get_state
from chat_project import settings as project_settings
from tests.api.helpers import error, ok

pytestmark = pytest.mark.django_db


@pytest.fixture
def limited(settings):
    settings.CHAT_RATE_LIMIT_FRIEND_REQUESTS = "3/1min"
    async_to_sync(get_state().limiter.reset)()
    yield
    async_to_sync(get_state().limiter.reset)()


def ask(api, user, other):
    return api(user).post("/api/friendships", {"userId": str(other.pk)}, format="json")


def test_the_fourth_request_in_a_minute_is_429_and_writes_nothing(api, make_user, limited):
    alice, *others = [make_user(name) for name in ("Alice", "Bob", "Carol", "Dave", "Erin")]
    for other in others[:3]:
        ok(ask(api, alice, other), 201)
    assert "friend requests" in error(ask(api, alice, others[3]), 429, "rate_limited")
    assert Friendship.objects.count() == 3
    # The budget is the asker's own: Erin may still ask.
    ok(ask(api, others[3], alice), 201)


def test_the_default_is_twenty_a_minute(api, make_user, settings):
    # The value settings.py gives without the environment (the tests turn every limit off).
    settings.CHAT_RATE_LIMIT_FRIEND_REQUESTS = project_settings.CHAT_RATE_LIMIT_FRIEND_REQUESTS
    async_to_sync(get_state().limiter.reset)()
    alice = make_user("Alice")
    others = [make_user(f"U{i}") for i in range(21)]
    for other in others[:20]:
        ok(ask(api, alice, other), 201)
    error(ask(api, alice, others[20]), 429, "rate_limited")
    async_to_sync(get_state().limiter.reset)()
