"""Access tokens (CONTRACT §2, §10, §11): verify a JWT, find or provision its user, and mint tokens.

Two kinds of token are signed alike: a user token names its user in `sub`; a service token (the
identity system pushing users, §10) carries `scope: "chat:service"` and no `sub`. Each is accepted
only where it belongs: a service token is no user (no socket, no chat API), a user token no service.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jwt
from django.conf import settings
from django.db import IntegrityError, transaction

from chat.errors import Unauthorized
from chat.models import User
from chat.validation import parse_user_id

ASPNET_NAME_ID = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier"
ASPNET_NAME = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
SERVICE_SCOPE = "chat:service"


@dataclass(frozen=True)
class TokenClaims:
    user_id: uuid.UUID
    name: str | None
    picture: str | None
    expires_at: int


@dataclass(frozen=True)
class ServiceToken:
    """A verified service token: the identity system, allowed to manage users and nothing else."""

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


def _verified_claims(raw: str | None) -> dict:
    """The claims of a token whose signature, expiry, lifetime and (when configured) audience and
    issuer hold.

    Only the one configured algorithm is accepted, which refuses `alg: none` and HS/RS confusion. An
    `exp` further ahead than `CHAT_JWT_MAX_LIFETIME` is refused (CONTRACT §11): a leaked token must not
    work for ever.
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
        expires_at = int(claims["exp"])
    except jwt.ExpiredSignatureError as exc:
        raise Unauthorized("The access token has expired.") from exc
    except jwt.InvalidTokenError as exc:
        raise Unauthorized(f"The access token is not valid: {str(exc).rstrip('.')}.") from exc
    max_lifetime = settings.CHAT_JWT_MAX_LIFETIME
    if max_lifetime > 0 and expires_at > time.time() + max_lifetime + settings.CHAT_JWT_LEEWAY:
        raise Unauthorized(f"The access token lives too long: its exp is more than {max_lifetime} seconds ahead.")
    return {**claims, "exp": expires_at}


def _is_service(claims: dict) -> bool:
    """`scope` as OAuth writes it (space-separated) or as a list."""
    scope = claims.get("scope")
    if isinstance(scope, str):
        return SERVICE_SCOPE in scope.split()
    if isinstance(scope, list):
        return SERVICE_SCOPE in scope
    return False


def _user_claims(claims: dict) -> TokenClaims:
    if _is_service(claims):
        raise Unauthorized("A service token cannot act as a user: use a user's access token.")
    user_id = parse_user_id(claims.get("sub") or claims.get(ASPNET_NAME_ID))
    if user_id is None:
        raise Unauthorized("The access token names no user (a GUID `sub` claim is required).")
    name = claims.get("name") or claims.get(ASPNET_NAME)
    picture = claims.get("picture")
    return TokenClaims(
        user_id=user_id,
        name=name if isinstance(name, str) else None,
        picture=picture if isinstance(picture, str) else None,
        expires_at=claims["exp"],
    )


def _service_token(claims: dict) -> ServiceToken:
    if claims.get("sub") is not None or claims.get(ASPNET_NAME_ID) is not None:
        raise Unauthorized("A service token must not name a user (no `sub` claim).")
    return ServiceToken(expires_at=claims["exp"])


def decode_token(raw: str | None) -> TokenClaims:
    """A user token's claims; a service token is refused (it opens no socket and is no user on REST)."""
    return _user_claims(_verified_claims(raw))


def decode_any_token(raw: str | None) -> TokenClaims | ServiceToken:
    """A user token's claims or a service token, for the endpoints that answer both (§10: 403 to users)."""
    claims = _verified_claims(raw)
    return _service_token(claims) if _is_service(claims) else _user_claims(claims)


def _fitted(field: str, value: str | None) -> str | None:
    """A claim cut to the length its column holds."""
    return None if value is None else value[: User._meta.get_field(field).max_length]


def user_for_claims(claims: TokenClaims) -> User:
    """The token's user, created on first sight (just-in-time) and refreshed from its claims.

    A placeholder (a user named before their first token, CONTRACT §2) is filled in here like any
    other refresh. Claims are cut to their columns first, for both paths: an over-long `name` would
    otherwise make the insert fail on PostgreSQL, and would differ from the stored (cut) name on every
    later token, rewriting the user each time. A `picture` that is no http(s) URL is stored as no
    avatar (CONTRACT §11).
    """
    from chat.services.users import clean_avatar

    name = _fitted("name", claims.name)
    avatar = None if claims.picture is None else (clean_avatar(claims.picture) or "")
    user = User.objects.filter(pk=claims.user_id).first()
    if user is None:
        if not settings.CHAT_JIT_PROVISIONING:
            raise Unauthorized("Unknown user.")
        try:
            with transaction.atomic():
                user = User.objects.create_user(id=claims.user_id, name=name or "", avatar=avatar or "")
            created = True
        except IntegrityError:
            # Another request created it first (the same user's, or a placeholder): refresh that row.
            user = User.objects.get(pk=claims.user_id)
            created = False
    else:
        created = False
    if not created:
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


def _signed(claims: dict, ttl: int) -> str:
    max_lifetime = settings.CHAT_JWT_MAX_LIFETIME
    if max_lifetime > 0 and ttl > max_lifetime:
        raise ValueError(
            f"a token may live at most CHAT_JWT_MAX_LIFETIME={max_lifetime} seconds; this server refuses longer ones"
        )
    now = int(time.time())
    claims = {**claims, "iat": now, "exp": now + ttl}
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


def issue_token(
    user_id: uuid.UUID | str, *, name: str | None = None, picture: str | None = None, ttl: int = 86400
) -> str:
    """Mint a user token the way an identity provider would (for `manage.py issue_token`, tests, demos).

    A `ttl` beyond `CHAT_JWT_MAX_LIFETIME` is a ValueError: this server would refuse the token.
    """
    claims: dict = {"sub": str(user_id)}
    if name is not None:
        claims["name"] = name
    if picture is not None:
        claims["picture"] = picture
    return _signed(claims, ttl)


def issue_service_token(*, ttl: int = 86400) -> str:
    """Mint a service token (`manage.py issue_token --service`): `scope: "chat:service"`, no `sub`."""
    return _signed({"scope": SERVICE_SCOPE}, ttl)
