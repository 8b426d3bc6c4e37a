"""Device tokens for FCM push."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class Platform(models.TextChoices):
    ANDROID = "android", "Android"
    IOS = "ios", "iOS"
    WEB = "web", "Web"


class Device(models.Model):
    """One FCM registration token. A token belongs to one user at a time: the last to register it."""

    user = models.ForeignKey("chat.User", on_delete=models.CASCADE, related_name="devices")
    token = models.CharField(max_length=512, unique=True)
    platform = models.CharField(max_length=16, choices=Platform.choices)
    creation_time = models.DateTimeField(default=timezone.now)
    last_seen_time = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["user"], name="device_user_idx")]

    def __str__(self) -> str:
        return f"{self.platform} device of {self.user_id}"
