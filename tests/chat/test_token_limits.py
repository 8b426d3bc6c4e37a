"""CONTRACT §11 tokens: no `exp` beyond CHAT_JWT_MAX_LIFETIME, no avatar that is no http(s) URL, and
(§10) no socket for a service token. Over REST and a real socket."""

import hashlib
import hmac
import json
import time
import uuid

import jwt
import pytest
import socketio
from django.conf import settings as django_settings
from rest_framework.test import APIClient

from chat.errors import Unauthorized
from chat.models import User
from chat.services.users import clean_avatar
from chat.tokens import authenticate_token, issue_service_token, issue_token
from tests.api.helpers import error, ok


def hs(claims: dict) -> str:
    return jwt.encode(claims, django_settings.CHAT_JWT_SECRET, algorithm="HS256")


def infinite_exp(sub: str) -> str:
    """`"exp": Infinity`, which Python's JSON writes and reads."""
    header = jwt.utils.base64url_encode(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = jwt.utils.base64url_encode(json.dumps({"sub": sub, "exp": float("inf")}).encode())
    signing_input = header + b"." + payload
    signature = hmac.new(django_settings.CHAT_JWT_SECRET.encode(), signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + jwt.utils.base64url_encode(signature)).decode()


def far(uid, seconds: float) -> str:
    return hs({"sub": str(uid), "exp": int(time.time() + seconds)})


@pytest.mark.django_db
@pytest.mark.parametrize(
    "make_token",
    [
        lambda uid: hs({"sub": str(uid), "exp": 10**20}),
        lambda uid: far(uid, 31 * 86400),
        lambda uid: infinite_exp(str(uid)),
    ],
    ids=["exp-1e20", "31-days", "exp-infinity"],
)
def test_an_exp_too_far_ahead_is_refused(make_user, make_token):
    alice = make_user("Alice")
    with pytest.raises(Unauthorized, match=r"lives too long|exp\) must be an integer"):
        authenticate_token(make_token(alice.pk))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {make_token(alice.pk)}")
    error(client.get("/api/friendships"), 401, "unauthorized")


@pytest.mark.django_db
def test_the_lifetime_is_a_setting(make_user, settings):
    alice = make_user("Alice")
    assert authenticate_token(far(alice.pk, 29 * 86400)) == alice
    settings.CHAT_JWT_MAX_LIFETIME = 3600
    with pytest.raises(Unauthorized, match="more than 3600 seconds"):
        authenticate_token(far(alice.pk, 7200))
    assert authenticate_token(far(alice.pk, 3000)) == alice


def test_tokens_beyond_the_lifetime_are_not_minted(settings):
    with pytest.raises(ValueError, match="CHAT_JWT_MAX_LIFETIME"):
        issue_token(uuid.uuid4(), ttl=31 * 86400)
    with pytest.raises(ValueError, match="CHAT_JWT_MAX_LIFETIME"):
        issue_service_token(ttl=10**12)


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("https://cdn.example/a.png", "https://cdn.example/a.png"),
        ("HTTP://cdn.example:8080/a.png?x=1", "HTTP://cdn.example:8080/a.png?x=1"),
        ("  https://cdn.example/a.png ", "https://cdn.example/a.png"),
        ("javascript:alert(3)", None),
        ("JaVaScRiPt:alert(3)", None),
        ("data:image/svg+xml,<svg onload=alert(1)>", None),
        ("vbscript:msgbox", None),
        ("//cdn.example/a.png", None),
        ("/uploads/a.png", None),
        ("https:///a.png", None),
        ("https://cdn.example/a b.png", None),
        ("https://cdn.example/\x00.png", None),
        ("https://[::1/a.png", None),
        ("https://x/" + "p" * 1000, None),
        ("", None),
        (None, None),
        (5, None),
    ],
)
def test_clean_avatar(value, stored):
    assert clean_avatar(value) == stored


@pytest.mark.django_db
def test_a_picture_claim_that_is_no_http_url_is_stored_as_none(make_user):
    uid = uuid.uuid4()
    user = authenticate_token(hs({"sub": str(uid), "exp": int(time.time()) + 600, "picture": "javascript:alert(3)"}))
    assert user.avatar == ""
    # A later bad picture replaces a good one with none: the token says this is the picture.
    authenticate_token(issue_token(uid, picture="https://cdn.example/ok.png"))
    assert User.objects.get(pk=uid).avatar == "https://cdn.example/ok.png"
    authenticate_token(issue_token(uid, picture="javascript:alert(3)"))
    assert User.objects.get(pk=uid).avatar == ""
    # And on the wire it is null.
    alice = make_user("Alice")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_token(alice.pk)}")
    data = ok(client.get("/api/chat/getChatHeaderAsync", {"user1Id": str(alice.pk), "user2Id": str(uid)}))
    assert {m["avatar"] for m in data["members"]} == {None}


def refusal_recorder():
    client = socketio.AsyncClient(reconnection=False)
    errors = []
    client.on("connect_error", errors.append)
    return client, errors


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("case", ["exp-1e20", "service-token"])
async def test_the_socket_refuses_them_at_connect(chat_server, make_user, case):
    alice = make_user("Alice")
    token = hs({"sub": str(alice.pk), "exp": 10**20}) if case == "exp-1e20" else issue_service_token()
    client, errors = refusal_recorder()
    with pytest.raises(socketio.exceptions.ConnectionError):
        await client.connect(
            f"{chat_server.url}?userId={alice.pk}",
            auth={"accessToken": token},
            transports=["websocket"],
            wait_timeout=5,
        )
    reason = "lives too long" if case == "exp-1e20" else "service token"
    assert len(errors) == 1 and reason in errors[0]["message"], errors


@pytest.mark.django_db(transaction=True)
async def test_a_service_token_cannot_bind_a_tokenless_socket(clients, make_user):
    alice = make_user("Alice")
    a = await clients(alice, token=None)
    answer = await a.call("getMyChats", {"accessToken": issue_service_token()})
    assert answer["code"] == "unauthorized" and "service token" in answer["error"]
