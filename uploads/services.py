"""Upload writes: validate, re-encode or sniff, store under a random name, record (CONTRACT §6)."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime

from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone

from chat.errors import Invalid, PayloadTooLarge
from chat.models import User
from uploads import media
from uploads.models import Upload
from uploads.selectors import upload_path, upload_sendable, upload_unreferenced

logger = logging.getLogger("uploads")

PREFIX = "chat-messages"


def upload_limit(message_type: int) -> int:
    """The largest accepted input, in bytes, for a messageType (settings, so tests can shrink them)."""
    return {
        media.AUDIO: settings.UPLOAD_MAX_AUDIO_BYTES,
        media.IMAGE: settings.UPLOAD_MAX_IMAGE_BYTES,
        media.FILE: settings.UPLOAD_MAX_FILE_BYTES,
        media.VIDEO: settings.UPLOAD_MAX_VIDEO_BYTES,
    }[message_type]


def upload_request_limit() -> int:
    """The largest request body any upload may have: the largest file plus the multipart framing."""
    largest = max(upload_limit(t) for t in media.FOLDERS)
    return largest + settings.UPLOAD_MULTIPART_OVERHEAD_BYTES


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):g} MB" if size >= 1024 * 1024 else f"{size} bytes"


def upload_create(*, uploader: User, message_type: int, file: UploadedFile) -> Upload:
    """Store one upload and record it.

    Rules: the size limit of its type (413); images re-encoded to a clean WebP; audio and video
    only with an extension of the spec's list that their content agrees with; any file for type 3.
    The stored name is random (unguessable, never the client's) and never overwrites another file.
    """
    if message_type not in media.FOLDERS:
        raise Invalid("messageType: must be 1 (audio), 2 (image), 3 (file) or 4 (video).")
    limit = upload_limit(message_type)
    if file.size is None or file.size > limit:
        raise PayloadTooLarge(f"file: larger than the {_megabytes(limit)} allowed for this type.")
    if file.size == 0:
        raise Invalid("file: the file is empty.")
    original_name = media.clean_original_name(file.name)
    extension = media.extension_of(original_name)

    content: File
    try:
        if message_type == media.IMAGE:
            file.seek(0)
            result = media.reencode_image(
                file, extension=extension, max_pixels=settings.UPLOAD_IMAGE_MAX_PIXELS, max_side=media.MAX_SIDE
            )
            extension, content_type = "webp", "image/webp"
            content = ContentFile(result.data)
        elif message_type in (media.AUDIO, media.VIDEO):
            content_type = media.check_audio_video(file, extension=extension, message_type=message_type)
            file.seek(0)
            content = File(file)
        else:
            extension = extension or "bin"
            path = getattr(file, "temporary_file_path", None)
            content_type = media.sniff_mime(path()) if path else ""
            file.seek(0)
            content = File(file)
    except media.MediaRejected as exc:
        raise Invalid(str(exc)) from exc

    name = f"{PREFIX}/{media.FOLDERS[message_type]}/{secrets.token_urlsafe(24)}.{extension}"
    stored = default_storage.save(name, content, max_length=500)
    try:
        with transaction.atomic():
            return Upload.objects.create(
                uploader=uploader,
                message_type=message_type,
                path=upload_path(stored),
                storage_name=stored,
                size=content.size,
                content_type=content_type[:200],
                original_name=original_name[:255],
            )
    except Exception:
        default_storage.delete(stored)
        raise


def upload_claim_for_message(*, sender: User, path: str, message_type: int) -> bool:
    """Whether `sender` may send the upload at `path` as a `message_type` message; marks it sent.

    Rules (CONTRACT §11): the sender's own upload of that type, or a path that a visible message of
    a chat the sender belongs to already carries (forwarding). Another user's upload that no such
    message carries (never sent, or all its messages deleted) and a path of another type are refused.
    Call it inside the transaction that stores the message: a message rolled back leaves it unsent.
    """
    found = upload_sendable(sender_id=sender.pk, path=path, message_type=message_type)
    if found is None:
        return False
    upload_id, sent_before = found
    if not sent_before:
        # From now on the file is served only while a visible message carries it.
        Upload.objects.filter(pk=upload_id, sent_time__isnull=True).update(sent_time=timezone.now())
    return True


def uploads_cleanup(*, older_than: datetime, dry_run: bool = False) -> list[Upload]:
    """Delete the uploads that no message references (soft-deleted messages still count), and their
    files. Only uploads older than `older_than`: a fresh upload is waiting for its createMessage."""
    found = list(upload_unreferenced(older_than=older_than))
    if dry_run:
        return found
    for upload in found:
        try:
            default_storage.delete(upload.storage_name)
        except OSError:
            logger.warning("could not delete %s; keeping its record", upload.storage_name, exc_info=True)
            continue
        upload.delete()
    return found
