"""Uploaded media: each upload is recorded so that messages can only point at real uploads."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class Upload(models.Model):
    uploader = models.ForeignKey("chat.User", null=True, on_delete=models.SET_NULL, related_name="uploads")
    message_type = models.PositiveSmallIntegerField(help_text="1 audio, 2 image, 3 file, 4 video")
    # The path `uploadFile` returned, e.g. /uploads/chat-messages/images/<random>.webp
    path = models.CharField(max_length=500, unique=True)
    storage_name = models.CharField(max_length=500, help_text="name inside the storage backend")
    size = models.PositiveBigIntegerField()
    content_type = models.CharField(max_length=200, blank=True, default="")
    original_name = models.CharField(max_length=255, blank=True, default="")
    creation_time = models.DateTimeField(default=timezone.now)
    # Set by the first createMessage that carries the path. From then on the file is served only while
    # a visible message carries it (CONTRACT §11); before, the uploader may look at it.
    sent_time = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["uploader", "-creation_time"], name="upload_uploader_idx")]

    def __str__(self) -> str:
        return self.path
