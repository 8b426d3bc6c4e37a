"""Reads over uploads."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db.models import Exists, OuterRef, QuerySet

from chat.models import ChatMessage
from uploads.models import Upload


def upload_path(storage_name: str) -> str:
    """The path `uploadFile` returns for the file stored as `storage_name`: /uploads/chat-messages/..."""
    return f"{settings.MEDIA_URL.rstrip('/')}/{storage_name}"


def upload_for_serving(*, storage_name: str) -> Upload | None:
    """The upload stored as `storage_name`, found through the unique index on `path`: every media GET
    asks, and `storage_name` has no index."""
    return Upload.objects.filter(path=upload_path(storage_name)).only("message_type", "original_name", "size").first()


def upload_matches(*, path: str, message_type: int) -> bool:
    """Whether `path` is what `uploadFile` returned for an upload of `message_type`."""
    return Upload.objects.filter(path=path, message_type=message_type).exists()


def upload_unreferenced(*, older_than: datetime) -> QuerySet[Upload]:
    """Uploads created before `older_than` that no message (deleted ones included) points at."""
    used = ChatMessage.objects.filter(message_type=OuterRef("message_type"), message=OuterRef("path"))
    return Upload.objects.filter(creation_time__lt=older_than).filter(~Exists(used)).order_by("creation_time", "id")
