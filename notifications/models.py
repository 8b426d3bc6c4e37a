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


class PushKind(models.TextChoices):
    MESSAGE = "message", "New message"
    READ = "read", "Read elsewhere (data only)"
    TEST = "test", "Test"


class PushState(models.TextChoices):
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    DROPPED = "dropped", "Dropped"


class Push(models.Model):
    """One push to one device: the outbox row written in the transaction that caused it.

    Rows are per device, not per recipient, so that each token has its own result: an unregistered
    token drops its own row while the user's other devices are still retried or sent. The delivery
    loop (notifications/worker.py) claims due rows, sends them and records the outcome here.
    """

    kind = models.CharField(max_length=16, choices=PushKind.choices, default=PushKind.MESSAGE)
    user = models.ForeignKey("chat.User", on_delete=models.CASCADE, related_name="pushes")
    # SET_NULL: a deleted token leaves its rows for the admin to see; the worker drops them.
    device = models.ForeignKey(Device, null=True, blank=True, on_delete=models.SET_NULL, related_name="pushes")
    token = models.CharField(max_length=512, help_text="The device token when the push was queued.")
    platform = models.CharField(max_length=16, choices=Platform.choices)
    chat = models.ForeignKey("chat.ChatHeader", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    message = models.ForeignKey("chat.ChatMessage", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    title = models.CharField(max_length=300, blank=True, default="")
    body = models.TextField(blank=True, default="")
    data = models.JSONField(default=dict, blank=True)
    badge = models.PositiveIntegerField(null=True, blank=True, help_text="Unread total, set when sent.")

    state = models.CharField(max_length=16, choices=PushState.choices, default=PushState.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_at = models.DateTimeField(null=True, blank=True, help_text="When a worker took it (its lease).")
    claim_id = models.CharField(max_length=40, blank=True, default="", editable=False)
    last_error = models.TextField(blank=True, default="")
    provider_message_id = models.CharField(max_length=300, blank=True, default="")
    creation_time = models.DateTimeField(default=timezone.now)
    sent_time = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "pushes"
        indexes = [
            # The worker's claim: WHERE state = 'pending' AND next_attempt_at <= now ORDER BY next_attempt_at.
            models.Index(fields=["state", "next_attempt_at"], name="push_due_idx"),
            models.Index(fields=["user", "chat", "kind"], name="push_user_chat_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} push #{self.pk} to {self.user_id} ({self.state})"


class NotificationSettings(models.Model):
    """A user's push settings (CONTRACT §9 `/api/notifications/settings`); no row: the defaults."""

    user = models.OneToOneField(
        "chat.User", primary_key=True, on_delete=models.CASCADE, related_name="notification_settings"
    )
    # No message pushes at all while it lies ahead; one in the past is simply over.
    do_not_disturb_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "notification settings"

    def __str__(self) -> str:
        return f"notification settings of {self.user_id}"
