"""CONTRACT §2: the access token matrix."""

import base64
import hashlib
import hmac
import json
import time
import uuid

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings as django_settings
from rest_framework.test import APIRequestFactory

from chat.authentication import BearerTokenAuthentication
from chat.errors import Unauthorized
from chat.models import User
from chat.services.users import user_deactivate
from chat.tokens import ASPNET_NAME_ID, authenticate_token, issue_token

pytestmark = pytest.mark.django_db


def hs(claims: dict, key: str | None = None, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, key or django_settings.CHAT_JWT_SECRET, algorithm=algorithm)


def soon() -> int:
    return int(time.time()) + 600


def test_valid_token(make_user):
    alice = make_user("Alice")
    assert authenticate_token(issue_token(alice.pk)) == alice


def test_bearer_prefix_is_accepted(make_user):
    alice = make_user("Alice")
    assert authenticate_token(f"Bearer {issue_token(alice.pk)}") == alice
    assert authenticate_token(f"bearer  {issue_token(alice.pk)} ") == alice


def test_aspnet_nameidentifier_claim_is_accepted(make_user):
    alice = make_user("Alice")
    assert authenticate_token(hs({ASPNET_NAME_ID: str(alice.pk), "exp": soon()})) == alice


@pytest.mark.parametrize(
    ("make_token", "reason"),
    [
        (lambda uid: issue_token(uid, ttl=-3600), "expired"),
        (lambda uid: hs({"sub": str(uid), "exp": soon()}, key="another-key-of-enough-length-1234"), "not valid"),
        (lambda uid: jwt.encode({"sub": str(uid), "exp": soon()}, None, algorithm="none"), "not valid"),
        (lambda uid: hs({"exp": soon()}), "names no user"),
        (lambda uid: hs({"sub": "not-a-guid", "exp": soon()}), "names no user"),
        (lambda uid: hs({"sub": str(uid)}), "not valid"),  # no exp
        (lambda uid: "garbage", "not valid"),
        (lambda uid: "", "required"),
    ],
    ids=["expired", "wrong-key", "alg-none", "missing-sub", "non-guid-sub", "missing-exp", "garbage", "empty"],
)
def test_refused_tokens(make_user, make_token, reason):
    alice = make_user("Alice")
    with pytest.raises(Unauthorized, match=reason):
        authenticate_token(make_token(alice.pk))


def test_inactive_user_is_refused(make_user):
    alice = make_user("Alice")
    user_deactivate(user_id=alice.pk)
    with pytest.raises(Unauthorized, match="disabled"):
        authenticate_token(issue_token(alice.pk))


def test_just_in_time_creation_from_claims():
    uid = uuid.uuid4()
    user = authenticate_token(hs({"sub": str(uid), "exp": soon(), "name": "New", "picture": "https://x/p.png"}))
    assert user.pk == uid and user.name == "New" and user.avatar == "https://x/p.png"
    assert User.objects.filter(pk=uid).count() == 1


def test_just_in_time_creation_can_be_turned_off(settings):
    settings.CHAT_JIT_PROVISIONING = False
    with pytest.raises(Unauthorized, match="Unknown user"):
        authenticate_token(hs({"sub": str(uuid.uuid4()), "exp": soon()}))


def test_later_tokens_refresh_name_and_avatar(make_user):
    alice = make_user("Alice")
    authenticate_token(hs({"sub": str(alice.pk), "exp": soon(), "name": "Alice B", "picture": "https://x/a.png"}))
    alice.refresh_from_db()
    assert (alice.name, alice.avatar) == ("Alice B", "https://x/a.png")
    authenticate_token(hs({"sub": str(alice.pk), "exp": soon()}))  # no claims: nothing is erased
    alice.refresh_from_db()
    assert (alice.name, alice.avatar) == ("Alice B", "https://x/a.png")


def test_overlong_name_and_picture_are_cut_once(django_assert_num_queries):
    """The name is cut to its column at creation (PostgreSQL refuses longer values); a picture URL too
    long for its column is no avatar (a cut URL is a broken one). A later token with the same claims is
    not a change: no write per request."""
    uid = uuid.uuid4()
    name, picture = "N" * 300, "https://x/" + "p" * 1200
    token = hs({"sub": str(uid), "exp": soon(), "name": name, "picture": picture})
    user = authenticate_token(token)
    assert (user.name, user.avatar) == (name[:200], "")
    with django_assert_num_queries(1):  # the read, no UPDATE
        authenticate_token(token)


def test_audience_and_issuer_are_checked_when_configured(make_user, settings):
    alice = make_user("Alice")
    settings.CHAT_JWT_AUDIENCE = "chat"
    settings.CHAT_JWT_ISSUER = "https://idp.example"
    good = hs({"sub": str(alice.pk), "exp": soon(), "aud": "chat", "iss": "https://idp.example"})
    assert authenticate_token(good) == alice
    for claims in ({"aud": "other", "iss": "https://idp.example"}, {"aud": "chat", "iss": "https://evil"}, {}):
        with pytest.raises(Unauthorized):
            authenticate_token(hs({"sub": str(alice.pk), "exp": soon(), **claims}))


def forge_hs256(claims: dict, key: bytes) -> str:
    """An HS256 token signed with arbitrary bytes (PyJWT itself refuses to sign with a PEM key)."""

    def b64(data: bytes) -> bytes:
        return base64.urlsafe_b64encode(data).rstrip(b"=")

    signing_input = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + b"." + b64(json.dumps(claims).encode())
    signature = hmac.new(key, signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + b64(signature)).decode()


@pytest.fixture
def rsa_keys(tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    path = tmp_path / "public.pem"
    path.write_text(public)
    return private, public, str(path)


def test_rs256_by_setting_and_algorithm_confusion_refused(make_user, settings, rsa_keys):
    private, public, public_path = rsa_keys
    alice = make_user("Alice")
    settings.CHAT_JWT_ALGORITHM = "RS256"
    settings.CHAT_JWT_PUBLIC_KEY = public_path
    good = jwt.encode({"sub": str(alice.pk), "exp": soon()}, private, algorithm="RS256")
    assert authenticate_token(good) == alice
    # HS256 signed with the public key as secret (the classic confusion attack) is refused.
    forged = forge_hs256({"sub": str(alice.pk), "exp": soon()}, public.encode())
    with pytest.raises(Unauthorized):
        authenticate_token(forged)
    with pytest.raises(Unauthorized):
        authenticate_token(hs({"sub": str(alice.pk), "exp": soon()}))


def test_drf_bearer_authentication(make_user):
    alice = make_user("Alice")
    factory = APIRequestFactory()
    auth = BearerTokenAuthentication()
    request = factory.get("/", HTTP_AUTHORIZATION=f"Bearer {issue_token(alice.pk)}")
    user, _ = auth.authenticate(request)
    assert user == alice
    assert auth.authenticate(factory.get("/")) is None
    from rest_framework.exceptions import AuthenticationFailed

    for header in ("Bearer expired", f"Token {issue_token(alice.pk)}", "Bearer "):
        with pytest.raises(AuthenticationFailed):
            auth.authenticate(factory.get("/", HTTP_AUTHORIZATION=header))
