"""OpenAPI shapes of the REST answers: the envelope of CONTRACT §6 around the DTOs of §5.

These serializers only document; the DTOs themselves are built by `chat.dtos`.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import inline_serializer
from rest_framework import serializers


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "chat.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


class ServiceTokenScheme(OpenApiAuthenticationExtension):
    """The users API (CONTRACT §10): a JWT with `scope: "chat:service"` and no `sub`."""

    target_class = "chat.authentication.ServiceTokenAuthentication"
    name = "serviceAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": 'A service token: `scope: "chat:service"`, no `sub` (`manage.py issue_token --service`). '
            "User tokens are answered 403.",
        }


class ErrorEnvelope(serializers.Serializer):
    success = serializers.BooleanField(default=False)
    data = serializers.JSONField(allow_null=True, default=None)
    message = serializers.CharField()
    code = serializers.ChoiceField(
        choices=["unauthorized", "forbidden", "not_found", "invalid", "blocked", "rate_limited", "server_error"]
    )


def envelope(name: str, data) -> serializers.Serializer:
    """`{success: true, data: <data>, message: null}` as a named OpenAPI component."""
    return inline_serializer(
        name=name,
        fields={
            "success": serializers.BooleanField(),
            "data": data,
            "message": serializers.CharField(allow_null=True),
        },
    )


ERRORS = {
    400: ErrorEnvelope,
    401: ErrorEnvelope,
    403: ErrorEnvelope,
    404: ErrorEnvelope,
}
