"""Access tokens (CONTRACT §2): verify a JWT, find or provision its user, and mint tokens."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jwt
from django.conf import settings
from django.db import IntegrityError, transaction

from chat.models import User
from chat_project.errors import Unauthorized

ASPNET_NAME_ID = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier"
ASPNET_NAME = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"


@dataclass(frozen=True)
class TokenClaims:
    user_id: uuid.UUID
    name: str | None
    picture: str | None
    expires_at: int


def _read_key(value: str) -> str:
    """A PEM given inline or as a path to a file."""
    if value and not value.lstrip().startswith("-----") and Path(value).is_file():
        return Path(value).read_text()
    return value


@lru_cache(maxsize=8)
def _verification_key(algorithm: str, secret: str, public_key: str) -> str:
    return _read_key(public_key) if algorithm.startswith(("RS", "ES")) else secret


def strip_bearer(raw: str) -> str:
    raw = raw.strip()
    if raw[:7].lower() == "bearer ":
        raw = raw[7:].strip()
    return raw


def parse_user_id(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except (TypeError, ValueError, AttributeError):
        return None


def decode_token(raw: str | None) -> TokenClaims:
    """Verify signature, expiry and (when configured) audience and issuer.

    Only the one configured algorithm is accepted, which refuses `alg: none` and HS/RS confusion.
    """
    if not raw or not isinstance(raw, str):
        raise Unauthorized("An access token is required.")
    token = strip_bearer(raw)
    algorithm = settings.CHAT_JWT_ALGORITHM
    key = _verification_key(algorithm, settings.CHAT_JWT_SECRET, settings.CHAT_JWT_PUBLIC_KEY)
    options = {"require": ["exp"], "verify_aud": bool(settings.CHAT_JWT_AUDIENCE)}
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[algorithm],
            audience=settings.CHAT_JWT_AUDIENCE,
            issuer=settings.CHAT_JWT_ISSUER,
            leeway=settings.CHAT_JWT_LEEWAY,
            options=options,
        )
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("The access token has expired.") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized(f"The access token is not valid: {exc}.") from exc
    user_id = parse_user_id(claims.get("sub") or claims.get(ASPNET_NAME_ID))
    if user_id is None:
        raise Unauthorized("The access token names no user (a GUID `sub` claim is required).")
    name = claims.get("name") or claims.get(ASPNET_NAME)
    picture = claims.get("picture")
    return TokenClaims(
        user_id=user_id,
        name=name if isinstance(name, str) else None,
        picture=picture if isinstance(picture, str) else None,
        expires_at=int(claims["exp"]),
    )


def _fitted(field: str, value: str | None) -> str | None:
    """A claim cut to the length its column holds."""
    return None if value is None else value[: User._meta.get_field(field).max_length]


def user_for_claims(claims: TokenClaims) -> User:
    """The token's user, created on first sight (just-in-time) and refreshed from its claims.

    Claims are cut to their columns first, for both paths: an over-long `name` would otherwise make
    the insert fail on PostgreSQL, and would differ from the stored (cut) name on every later token,
    rewriting the user each time.
    """
    name, avatar = _fitted("name", claims.name), _fitted("avatar", claims.picture)
    user = User.objects.filter(pk=claims.user_id).first()
    if user is None:
        if not settings.CHAT_JIT_PROVISIONING:
            raise Unauthorized("Unknown user.")
        try:
            with transaction.atomic():
                user = User.objects.create_user(id=claims.user_id, name=name or "", avatar=avatar or "")
        except IntegrityError:
            # Two first requests of one new user at once: the other one created it.
            user = User.objects.get(pk=claims.user_id)
    else:
        changed = []
        if name is not None and name != user.name:
            user.name = name
            changed.append("name")
        if avatar is not None and avatar != user.avatar:
            user.avatar = avatar
            changed.append("avatar")
        if changed:
            user.save(update_fields=changed)
    if not user.is_active:
        raise Unauthorized("This account is disabled.")
    return user


def authenticate_token(raw: str | None) -> User:
    return user_for_claims(decode_token(raw))


def issue_token(
    user_id: uuid.UUID | str, *, name: str | None = None, picture: str | None = None, ttl: int = 86400
) -> str:
    """Mint a token the way an identity provider would (for `manage.py issue_token`, tests, demos)."""
    now = int(time.time())
    claims: dict = {"sub": str(user_id), "iat": now, "exp": now + ttl}
    if name is not None:
        claims["name"] = name
    if picture is not None:
        claims["picture"] = picture
    if settings.CHAT_JWT_AUDIENCE:
        claims["aud"] = settings.CHAT_JWT_AUDIENCE
    if settings.CHAT_JWT_ISSUER:
        claims["iss"] = settings.CHAT_JWT_ISSUER
    algorithm = settings.CHAT_JWT_ALGORITHM
    if algorithm.startswith(("RS", "ES")):
        if not settings.CHAT_JWT_PRIVATE_KEY:
            raise RuntimeError("Minting RS/ES tokens needs CHAT_JWT_PRIVATE_KEY")
        key = _read_key(settings.CHAT_JWT_PRIVATE_KEY)
    else:
        key = settings.CHAT_JWT_SECRET
    return jwt.encode(claims, key, algorithm=algorithm)
