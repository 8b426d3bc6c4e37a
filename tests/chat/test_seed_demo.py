"""`manage.py seed_demo`."""

import io
import re

import pytest
from django.core.management import call_command

from chat.models import ChatHeader, ChatMessage, Friendship, FriendshipStatus
from chat.services.demo import DEMO_USERS
from chat.tokens import authenticate_token

pytestmark = pytest.mark.django_db


def seed() -> str:
    out = io.StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def test_seed_demo_builds_a_usable_demo_and_is_idempotent():
    output = seed()
    tokens = dict(re.findall(r"^(\w+) userId=\S+ accessToken=(\S+)$", output, re.M))
    assert set(tokens) == set(DEMO_USERS)
    assert {name: authenticate_token(token).pk for name, token in tokens.items()} == DEMO_USERS
    counts = (ChatHeader.objects.count(), ChatMessage.objects.count(), Friendship.objects.count())
    assert counts == (2, 4, 2)
    assert Friendship.objects.filter(status=FriendshipStatus.ACCEPTED).count() == 1

    seed()
    assert (ChatHeader.objects.count(), ChatMessage.objects.count(), Friendship.objects.count()) == counts
