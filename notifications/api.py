"""REST views for push devices (CONTRACT §6): `/api/notifications/devices`."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from chat.api.schema import ERRORS, envelope
from chat.api.views import parsed
from chat.errors import success_envelope
from chat.validation import StrictCharField
from notifications.devices import MAX_TOKEN_LENGTH, device_delete, device_register
from notifications.dtos import DeviceDto, NotificationSettingsDto, device_dto, notification_settings_dto
from notifications.models import Platform
from notifications.preferences import notification_settings_get, notification_settings_update


class DeviceInput(serializers.Serializer):
    token = StrictCharField(max_length=MAX_TOKEN_LENGTH)
    platform = serializers.ChoiceField(choices=Platform.values)


DeviceEnvelope = envelope("DeviceResponse", DeviceDto())


class DeviceListView(APIView):
    @extend_schema(
        operation_id="registerDevice",
        summary="Register an FCM token for push",
        description="201 for a new token, 200 when it was known (a token of another user moves to the caller).",
        request=DeviceInput,
        responses={201: DeviceEnvelope, 200: DeviceEnvelope, **ERRORS},
        tags=["devices"],
    )
    def post(self, request):
        data = parsed(DeviceInput, request.data)
        device, created = device_register(user=request.user, token=data["token"], platform=data["platform"])
        return Response(
            success_envelope(device_dto(device)), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class DeviceDetailView(APIView):
    @extend_schema(
        operation_id="deleteDevice",
        summary="Drop one of the caller's FCM tokens",
        request=None,
        responses={200: envelope("DeviceDeleteResponse", serializers.JSONField(allow_null=True)), **ERRORS},
        tags=["devices"],
    )
    def delete(self, request, token: str):
        device_delete(user=request.user, token=token)
        return Response(success_envelope(None))


class NotificationSettingsInput(serializers.Serializer):
    doNotDisturbUntil = serializers.DateTimeField(allow_null=True)


SettingsEnvelope = envelope("NotificationSettingsResponse", NotificationSettingsDto())


class NotificationSettingsView(APIView):
    @extend_schema(
        operation_id="getNotificationSettings",
        summary="The caller's push settings (do-not-disturb)",
        request=None,
        responses={200: SettingsEnvelope, **ERRORS},
        tags=["devices"],
    )
    def get(self, request):
        until = notification_settings_get(user=request.user)
        return Response(success_envelope(notification_settings_dto(do_not_disturb_until=until)))

    @extend_schema(
        operation_id="putNotificationSettings",
        summary="Set the caller's do-not-disturb",
        description="While `doNotDisturbUntil` lies ahead the caller gets no message pushes at all (read-clear "
        "pushes still go). null, or a time in the past, turns it off. A time without an offset is UTC.",
        request=NotificationSettingsInput,
        responses={200: SettingsEnvelope, **ERRORS},
        tags=["devices"],
    )
    def put(self, request):
        data = parsed(NotificationSettingsInput, request.data)
        until = notification_settings_update(user=request.user, do_not_disturb_until=data["doNotDisturbUntil"])
        return Response(success_envelope(notification_settings_dto(do_not_disturb_until=until)))
