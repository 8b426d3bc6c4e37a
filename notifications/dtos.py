"""The notifications app's wire shapes: each built here, with its OpenAPI twin beside it."""

from __future__ import annotations

from rest_framework import serializers

from chat.dtos import iso
from notifications.models import Device, Platform


def device_dto(device: Device) -> dict:
    """`{token, platform, creationTime}`."""
    return {"token": device.token, "platform": device.platform, "creationTime": iso(device.creation_time)}


class DeviceDto(serializers.Serializer):
    token = serializers.CharField()
    platform = serializers.ChoiceField(choices=Platform.values)
    creationTime = serializers.DateTimeField()


def notification_settings_dto(*, do_not_disturb_until) -> dict:
    """`{doNotDisturbUntil}`: null when it is off (or over)."""
    return {"doNotDisturbUntil": iso(do_not_disturb_until)}


class NotificationSettingsDto(serializers.Serializer):
    doNotDisturbUntil = serializers.DateTimeField(
        allow_null=True, help_text="no message pushes at all until then; null: off"
    )
