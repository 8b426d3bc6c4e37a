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


class UserBriefDto(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField(allow_null=True, help_text="null while unknown (a placeholder user)")
    avatar = serializers.CharField(allow_null=True)


class MessageDto(serializers.Serializer):
    id = serializers.IntegerField()
    chatHeaderId = serializers.IntegerField()
    userId = serializers.UUIDField()
    message = serializers.CharField()
    messageType = serializers.IntegerField(min_value=0, max_value=4)
    caption = serializers.CharField(allow_blank=True)
    clientMessageId = serializers.CharField(allow_null=True)
    creationTime = serializers.DateTimeField()
    lastModificationTime = serializers.DateTimeField(allow_null=True)
    isEdited = serializers.BooleanField()
    user = UserBriefDto()


class MemberDto(serializers.Serializer):
    userId = serializers.UUIDField()
    name = serializers.CharField(allow_null=True, help_text="null while unknown (a placeholder user)")
    avatar = serializers.CharField(allow_null=True)
    isOnline = serializers.BooleanField()
    isViewingChat = serializers.BooleanField()
    lastReadMessageId = serializers.IntegerField(allow_null=True)
    isAdmin = serializers.BooleanField()


class ChatHeaderDto(serializers.Serializer):
    id = serializers.IntegerField()
    chatType = serializers.IntegerField(help_text="0 one-to-one, 1 group")
    name = serializers.CharField(
        allow_null=True, allow_blank=True, help_text="a one-to-one chat's is the other user's (null while unknown)"
    )
    avatar = serializers.CharField(allow_null=True)
    creationTime = serializers.DateTimeField()
    lastMessage = MessageDto(allow_null=True)
    lastMessageTime = serializers.DateTimeField(allow_null=True)
    unreadCount = serializers.IntegerField()
    members = MemberDto(many=True)


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
