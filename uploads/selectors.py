"""Reads over uploads."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db.models import Exists, OuterRef, Q, QuerySet

from chat.models import ChatMessage
from uploads.models import Upload


def upload_path(storage_name: str) -> str:
    """The path `uploadFile` returns for the file stored as `storage_name`: /uploads/chat-messages/..."""
    return f"{settings.MEDIA_URL.rstrip('/')}/{storage_name}"


def _media_messages(*, path, message_type) -> QuerySet[ChatMessage]:
    """Messages carrying the media file at `path` (deleted ones included). `message_type__gt=0` is the
    condition of the partial index `chatmessage_media_path_idx`: without it no database would use it."""
    return ChatMessage.objects.filter(message_type__gt=0, message=path, message_type=message_type)


def upload_for_serving(*, storage_name: str) -> Upload | None:
    """The upload stored as `storage_name` while it may be served, else None (CONTRACT §11): a fresh
    upload that no message has carried yet, or one that a visible message carries. Once sent, a file
    that no visible message carries any more (all of them deleted) is gone for clients.

    One query per media GET: the upload through the unique index on `path` (`storage_name` has none),
    its messages through the partial index on their path."""
    path = upload_path(storage_name)
    carried = _media_messages(path=path, message_type=OuterRef("message_type"))
    servable = Exists(carried.filter(is_deleted=False)) | (Q(sent_time__isnull=True) & ~Exists(carried))
    return Upload.objects.filter(servable, path=path).only("message_type", "original_name", "size").first()


def upload_sendable(*, sender_id, path: str, message_type: int) -> tuple[int, bool] | None:
    """(id, sent before) of the upload at `path` when `sender_id` may send it as `message_type`, else
    None. Allowed: their own upload, or one that a visible message of a chat they belong to already
    carries (forwarding). One query."""
    forwarded = _media_messages(path=path, message_type=message_type).filter(
        is_deleted=False, chat__memberships__user_id=sender_id
    )
    row = (
        Upload.objects.filter(path=path, message_type=message_type)
        .filter(Q(uploader_id=sender_id) | Exists(forwarded))
        .values_list("pk", "sent_time")
        .first()
    )
    return None if row is None else (row[0], row[1] is not None)


def upload_unreferenced(*, older_than: datetime) -> QuerySet[Upload]:
    """Uploads created before `older_than` that no message (deleted ones included) points at."""
    used = _media_messages(path=OuterRef("path"), message_type=OuterRef("message_type"))
    return Upload.objects.filter(creation_time__lt=older_than).filter(~Exists(used)).order_by("creation_time", "id")
