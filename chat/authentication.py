"""DRF authentication: `Authorization: Bearer <accessToken>` (CONTRACT §2, §6 and §10)."""

from __future__ import annotations

from rest_framework import authentication, exceptions, permissions

from chat.errors import Unauthorized
from chat.tokens import ServiceToken, TokenClaims, decode_any_token, user_for_claims


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """A user token, as every chat endpoint needs. A service token is refused (401): it is no user."""

    keyword = "bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != self.keyword or not token.strip():
            raise exceptions.AuthenticationFailed("Authorization must be 'Bearer <accessToken>'.")
        try:
            return self.credentials(token.strip())
        except Unauthorized as exc:
            raise exceptions.AuthenticationFailed(exc.message) from exc

    def credentials(self, token: str):
        claims = decode_any_token(token)
        if isinstance(claims, ServiceToken):
            raise Unauthorized("A service token cannot act as a user: use a user's access token.")
        return user_for_claims(claims), token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'


class ServiceTokenAuthentication(BearerTokenAuthentication):
    """For the users API (§10): a service token authenticates the identity system (`request.user` None,
    `request.auth` the ServiceToken); a user token authenticates its user, whom `IsService` then
    refuses with 403 rather than 401, since the token itself is fine."""

    def credentials(self, token: str):
        claims = decode_any_token(token)
        if isinstance(claims, ServiceToken):
            return None, claims
        assert isinstance(claims, TokenClaims)
        return user_for_claims(claims), token


class IsService(permissions.BasePermission):
    message = "Only a service token (scope chat:service) may manage users."

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, ServiceToken)
