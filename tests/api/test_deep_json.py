"""REST bodies nested too deep are a 400 in the envelope, never a 500 (CONTRACT §11)."""

from __future__ import annotations

import logging

import pytest

from chat.models import Friendship
from chat.parsers import MAX_JSON_DEPTH
from tests.api.helpers import error, ok

pytestmark = pytest.mark.django_db


def nested(depth: int, leaf: str) -> str:
    """`{"userId": <leaf>}` wrapped so that the whole body is `depth` levels deep."""
    return '{"a":' * (depth - 1) + f'{{"userId":{leaf}}}' + "}" * (depth - 1)


@pytest.mark.parametrize("depth", [MAX_JSON_DEPTH + 1, 1_100, 5_000])
def test_a_body_nested_too_deep_is_400_and_changes_nothing(api, make_user, caplog, depth):
    caplog.set_level(logging.WARNING)
    alice, bob = make_user("Alice"), make_user("Bob")
    body = nested(depth, f'"{bob.pk}"')
    message = error(api(alice).post("/api/friendships", body, content_type="application/json"), 400, "invalid")
    assert "deeper" in message or "JSON" in message
    assert not Friendship.objects.exists()
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_a_deep_list_is_as_deep_as_a_deep_object(api, make_user):
    alice = make_user("Alice")
    body = '{"userId":' + "[" * 40 + "]" * 40 + "}"
    error(api(alice).post("/api/friendships", body, content_type="application/json"), 400, "invalid")


def test_a_body_at_the_limit_is_parsed_as_usual(api, make_user):
    """32 levels are parsed, and the view then says what it thinks of them."""
    alice = make_user("Alice")
    body = '{"userId":' + "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1) + "}"
    message = error(api(alice).post("/api/friendships", body, content_type="application/json"), 400, "invalid")
    assert "userId" in message


def test_broken_json_is_400(api, make_user):
    alice = make_user("Alice")
    error(api(alice).post("/api/friendships", '{"userId":', content_type="application/json"), 400, "invalid")


def test_ordinary_json_still_works(api, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    ok(api(alice).post("/api/friendships", {"userId": str(bob.pk)}, format="json"), 201)
