"""REST views for the identity system (CONTRACT §10): push users ahead of time, update, deactivate.

Only a service token (`scope: "chat:service"`, no `sub`; `manage.py issue_token --service`) may call
them; a user token is answered 403.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from chat import dtos
from chat.api.schema import ERRORS, envelope
from chat.api.views import parsed
from chat.authentication import IsService, ServiceTokenAuthentication
from chat.errors import Invalid, NotFound, success_envelope
from chat.services import users as services
from chat.validation import StrictBooleanField, StrictCharField, parse_user_id

AVATAR_HELP = "An http(s) URL; anything else (or null) is stored as no avatar."


class UserInput(serializers.Serializer):
    name = StrictCharField(max_length=services.MAX_NAME_LENGTH, allow_null=True, allow_blank=True)
    avatar = StrictCharField(allow_null=True, allow_blank=True, help_text=AVATAR_HELP)
    isActive = StrictBooleanField(required=False, help_text="false deactivates, true reactivates; absent: unchanged")


class BulkUserInput(serializers.Serializer):
    userId = serializers.UUIDField()
    name = StrictCharField(max_length=services.MAX_NAME_LENGTH, allow_null=True, allow_blank=True)
    avatar = StrictCharField(allow_null=True, allow_blank=True, help_text=AVATAR_HELP)


class BoundedListField(serializers.ListField):
    """A list refused by its length before its items are validated (a 100,000-item list costs nothing)."""

    def to_internal_value(self, data):
        if isinstance(data, list) and self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        return super().to_internal_value(data)


class BulkInput(serializers.Serializer):
    users = BoundedListField(child=BulkUserInput(), max_length=services.BULK_MAX_USERS, allow_empty=True)


UserEnvelope = envelope("UserResponse", dtos.UserAccountDto())
BulkEnvelope = envelope("UserBulkResponse", dtos.BulkResultDto())


class ServiceView(APIView):
    authentication_classes = [ServiceTokenAuthentication]
    permission_classes = [IsService]


class UserDetailView(ServiceView):
    @extend_schema(
        operation_id="upsertUser",
        summary="Create or update a user (service token only)",
        description="`name` and `avatar` replace what is stored (null: none). 201 when the user was created, "
        "200 otherwise. `isActive: false` deactivates the user (tokens refused, sockets disconnected), "
        "`true` reactivates them.",
        request=UserInput,
        responses={201: UserEnvelope, 200: UserEnvelope, **ERRORS},
        tags=["users"],
    )
    def put(self, request, user_id: str):
        uid = parse_user_id(user_id)
        if uid is None:
            raise Invalid("userId: must be a GUID.")
        data = parsed(UserInput, request.data)
        record = services.UserRecord(
            user_id=uid, name=data["name"], avatar=data["avatar"], is_active=data.get("isActive")
        )
        user, created = services.user_upsert(record=record)
        code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return Response(success_envelope(dtos.user_account_dto(user)), status=code)

    @extend_schema(
        operation_id="deactivateUser",
        summary="Deactivate a user (service token only)",
        description="Every token of the user is refused from now on and their open sockets are disconnected; "
        "messages, chats and friendships stay. Deactivating twice answers the same. Reactivate with PUT "
        "`isActive: true`.",
        request=None,
        responses={200: UserEnvelope, **ERRORS},
        tags=["users"],
    )
    def delete(self, request, user_id: str):
        uid = parse_user_id(user_id)
        if uid is None:
            raise NotFound("No such user.")
        return Response(success_envelope(dtos.user_account_dto(services.user_deactivate(user_id=uid))))


class UserBulkView(ServiceView):
    @extend_schema(
        operation_id="upsertUsers",
        summary="Create or update up to 100 users at once (service token only)",
        description="All or nothing: one bad item (or more than 100, or a userId twice) is 400 and nothing is "
        "applied. 201 when at least one user was created, else 200. `isActive` is not changed here.",
        request=BulkInput,
        responses={201: BulkEnvelope, 200: BulkEnvelope, **ERRORS},
        tags=["users"],
    )
    def post(self, request):
        data = parsed(BulkInput, request.data)
        records = [
            services.UserRecord(user_id=item["userId"], name=item["name"], avatar=item["avatar"])
            for item in data["users"]
        ]
        result = services.users_upsert_bulk(records=records)
        return Response(
            success_envelope({"created": result.created, "updated": result.updated}),
            status=status.HTTP_201_CREATED if result.created else status.HTTP_200_OK,
        )
