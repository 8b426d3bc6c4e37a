"""`manage.py issue_token`."""

import io
import uuid

import pytest
from django.core.management import CommandError, call_command

from chat.errors import Unauthorized
from chat.models import User
from chat.tokens import ServiceToken, authenticate_token, decode_any_token, decode_token

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = io.StringIO()
    call_command("issue_token", *args, stdout=out)
    return out.getvalue().strip()


def test_prints_a_token_that_verifies_and_creates_the_user():
    uid = uuid.uuid4()
    token = run(str(uid), "--name", "Alice", "--ttl", "60")
    user = authenticate_token(token)
    assert user.pk == uid and user.name == "Alice"
    assert User.objects.filter(pk=uid).exists()
    claims = decode_token(token)
    assert 0 < claims.expires_at - __import__("time").time() <= 61


def test_existing_user_keeps_its_name_without_name_option(make_user):
    alice = make_user("Alice")
    authenticate_token(run(str(alice.pk)))
    alice.refresh_from_db()
    assert alice.name == "Alice"


@pytest.mark.parametrize("args", [("not-a-guid",), (str(uuid.uuid4()), "--ttl", "0")])
def test_bad_arguments_are_refused(args):
    with pytest.raises(CommandError):
        run(*args)


def test_service_token():
    token = run("--service", "--ttl", "600")
    assert isinstance(decode_any_token(token), ServiceToken)
    with pytest.raises(Unauthorized, match="service token"):
        decode_token(token)
    assert User.objects.count() == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((str(uuid.uuid4()), "--ttl", str(31 * 86400)), "CHAT_JWT_MAX_LIFETIME"),
        (("--service", "--ttl", str(10**20)), "CHAT_JWT_MAX_LIFETIME"),
        (("--service", str(uuid.uuid4())), "name no user"),
        (("--service", "--name", "X"), "name no user"),
        ((), "user_id must be a GUID"),
    ],
)
def test_refuses_tokens_this_server_would_refuse(args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
    assert User.objects.count() == 0
