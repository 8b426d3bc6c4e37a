"""Device registration for push (CONTRACT §6): the REST side of `notifications.models.Device`."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.utils import timezone

from chat.errors import Forbidden, Invalid, NotFound
from chat.models import User
from notifications.models import Device, Platform

MAX_TOKEN_LENGTH = Device._meta.get_field("token").max_length


def device_register(*, user: User, token: str, platform: str) -> tuple[Device, bool]:
    """Register an FCM token for `user`. A token belongs to one user at a time: registering a token
    that another user had moves it to `user` (the phone changed hands or accounts). Returns
    (device, created)."""
    token = (token or "").strip()
    if not token or len(token) > MAX_TOKEN_LENGTH:
        raise Invalid(f"token: 1 to {MAX_TOKEN_LENGTH} characters.")
    if platform not in Platform.values:
        raise Invalid(f"platform: one of {', '.join(Platform.values)}.")
    now = timezone.now()
    try:
        with transaction.atomic():
            device, created = Device.objects.select_for_update().get_or_create(
                token=token, defaults={"user": user, "platform": platform, "creation_time": now, "last_seen_time": now}
            )
            if not created:
                device.user = user
                device.platform = platform
                device.last_seen_time = now
                device.save(update_fields=["user", "platform", "last_seen_time"])
    except IntegrityError:
        # Registered at the same moment elsewhere: take it over.
        return device_register(user=user, token=token, platform=platform)
    return device, created


def device_delete(*, user: User, token: str) -> None:
    """Drop one of the caller's tokens (sign-out on that device). Another user's token is `forbidden`."""
    device = Device.objects.filter(token=token).only("user_id").first()
    if device is None:
        raise NotFound("No device has that token.")
    if device.user_id != user.pk:
        raise Forbidden("That device belongs to another user.")
    device.delete()
