"""DRF authentication: `Authorization: Bearer <accessToken>` (CONTRACT §2 and §6)."""

from __future__ import annotations

from rest_framework import authentication, exceptions

from chat.tokens import authenticate_token
from chat_project.errors import Unauthorized


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        if not header:
            return None
        scheme, _, token = header.partition(" ")
        if scheme.lower() != self.keyword or not token.strip():
            raise exceptions.AuthenticationFailed("Authorization must be 'Bearer <accessToken>'.")
        try:
            user = authenticate_token(token)
        except Unauthorized as exc:
            raise exceptions.AuthenticationFailed(exc.message) from exc
        return user, token.strip()

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="api"'
