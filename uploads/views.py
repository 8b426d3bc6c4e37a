"""`POST /api/chat/uploadFile` and the `/uploads/` files it returns (CONTRACT §6)."""

from __future__ import annotations

import asyncio
import re

from django.core.files.storage import default_storage
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header
from django.views.decorators.http import require_safe
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from chat.api.schema import ERRORS, envelope
from chat.errors import PayloadTooLarge, error_envelope, success_envelope
from uploads import media
from uploads.models import Upload
from uploads.selectors import upload_for_serving
from uploads.services import upload_create, upload_request_limit


class LimitedTemporaryFileUploadHandler(TemporaryFileUploadHandler):
    """Streams every file part to a temporary file (never into memory) and stops past `limit` bytes."""

    def __init__(self, request=None, *, limit: int):
        super().__init__(request)
        self.limit = limit
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self.upload_interrupted()
            raise PayloadTooLarge()
        return super().receive_data_chunk(raw_data, start)


class UploadFileInput(serializers.Serializer):
    file = serializers.FileField(max_length=None, allow_empty_file=False)
    messageType = serializers.IntegerField(
        min_value=1, max_value=4, help_text="1 audio, 2 image, 3 file/document, 4 video"
    )


# Written out because drf-spectacular documents a FileField as a URI unless every component is
# split into request and response halves.
UPLOAD_FORM_SCHEMA = {
    "type": "object",
    "properties": {
        "file": {"type": "string", "format": "binary", "description": "The file to upload"},
        "messageType": {
            "type": "integer",
            "minimum": 1,
            "maximum": 4,
            "description": "1 audio, 2 image, 3 file/document, 4 video",
        },
    },
    "required": ["file", "messageType"],
}


class UploadFileView(APIView):
    parser_classes = [MultiPartParser]

    @extend_schema(
        operation_id="uploadFile",
        summary="Upload a file for a media message",
        description=(
            "Images are re-encoded to WebP within 1920x1920 (upright, no metadata). Audio: mp3 wav ogg m4a aac "
            "flac wma, video: mp4 avi mov wmv flv webm mkv; their content must agree with the extension. Type 3 "
            "takes any file. Limits: video 500 MB, audio, file and image input 50 MB (413 above). A body without "
            "a Content-Length (Transfer-Encoding: chunked) is accepted under the same limits. At most "
            "CHAT_RATE_LIMIT_UPLOADS uploads per user (20 a minute; 429 rate_limited above). `data` is the "
            "path to send as the `message` of createMessage."
        ),
        request={"multipart/form-data": UPLOAD_FORM_SCHEMA},
        responses={
            201: envelope("UploadFileResponse", serializers.CharField(help_text="/uploads/chat-messages/...")),
            413: ERRORS[400],
            429: ERRORS[400],
            **ERRORS,
        },
        tags=["uploads"],
    )
    def post(self, request):
        try:
            declared = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            declared = 0
        limit = upload_request_limit()
        if declared > limit:
            raise PayloadTooLarge()
        # Before anything reads the body: files go to disk chunk by chunk, counted.
        request._request.upload_handlers = [LimitedTemporaryFileUploadHandler(request._request, limit=limit)]
        data = UploadFileInput(data=request.data)
        data.is_valid(raise_exception=True)
        upload = upload_create(
            uploader=request.user,
            message_type=data.validated_data["messageType"],
            file=data.validated_data["file"],
        )
        return Response(success_envelope(upload.path), status=status.HTTP_201_CREATED)


# --- serving --------------------------------------------------------------------------------------

_NAME = re.compile(r"chat-messages/(audios|images|files|videos)/[A-Za-z0-9_-]{8,64}\.[a-z0-9]{1,10}")
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")
CHUNK = 64 * 1024


def _range_number(digits: str) -> int:
    """A number of a Range header. int() refuses strings past 4,300 digits (a 500 for any client
    that sends one); a number of 20 digits or more is beyond every size anyway, so it stands as 2**63."""
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= 19 else 2**63


def _not_found() -> JsonResponse:
    return JsonResponse(error_envelope("Not found.", "not_found"), status=404)


def _content_type(upload: Upload, name: str) -> str:
    if upload.message_type == media.FILE:
        return "application/octet-stream"
    return media.CONTENT_TYPES.get(name.rsplit(".", 1)[-1], "application/octet-stream")


def _open_range(storage, name: str, start: int, length: int):
    """A readable positioned at `start` of the stored file.

    django-storages' S3 files download the whole object into a spooled temporary file (in memory
    by default) before the first read; asking S3 for the byte range instead streams it.
    """
    bucket = getattr(storage, "bucket", None)
    if bucket is not None and hasattr(storage, "_normalize_name"):
        key = storage._normalize_name(name)
        return bucket.Object(key).get(Range=f"bytes={start}-{start + length - 1}")["Body"]
    fh = storage.open(name, "rb")
    try:
        fh.seek(start)
    except Exception:
        fh.close()
        raise
    return fh


def _chunks(fh, length: int):
    """`length` bytes, chunk by chunk (WSGI)."""
    try:
        while length > 0:
            chunk = fh.read(min(CHUNK, length))
            if not chunk:
                break
            length -= len(chunk)
            yield chunk
    finally:
        fh.close()


async def _achunks(fh, length: int):
    """The same for ASGI. Django would turn a synchronous iterator into one list first, i.e. hold a
    500 MB video in memory; this reads each chunk in a thread instead."""
    try:
        while length > 0:
            chunk = await asyncio.to_thread(fh.read, min(CHUNK, length))
            if not chunk:
                break
            length -= len(chunk)
            yield chunk
    finally:
        await asyncio.to_thread(fh.close)


def _stream(request, fh, length: int):
    if isinstance(request, ASGIRequest):
        return _achunks(fh, length)
    return _chunks(fh, length)


@require_safe
def serve_upload(request, name: str):
    """Stream an upload from the storage. Names are random, so the URL is the capability, as the
    spec's apps use them in <img> and <video> tags without a token.

    Nothing served here may run in our origin: `nosniff`, a sandboxing CSP, a fixed content type per
    folder, and type 3 files only as downloads (an uploaded HTML or SVG is never rendered). Single
    byte ranges are answered, because iOS will not play a video without them.

    A file is served until it has been sent and no visible message carries it any more (CONTRACT §11):
    deleting the last message that shows it makes it 404.
    """
    if not _NAME.fullmatch(name):
        return _not_found()
    upload = upload_for_serving(storage_name=name)
    if upload is None:
        return _not_found()
    content_type = _content_type(upload, name)
    size = upload.size
    match = _RANGE.fullmatch(request.headers.get("Range", "").strip())
    start, end, status = 0, size - 1, 200
    if match and (match.group(1) or match.group(2)):
        first, last = match.group(1), match.group(2)
        if first:
            start, end = _range_number(first), min(_range_number(last) if last else size - 1, size - 1)
        else:
            start, end = max(size - _range_number(last), 0), size - 1
        if start > end or start >= size:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return _harden(response)
        status = 206
    length = end - start + 1
    if request.method == "HEAD":
        response = HttpResponse(status=status, content_type=content_type)
    else:
        try:
            fh = _open_range(default_storage, name, start, length)
        except FileNotFoundError:
            return _not_found()
        response = StreamingHttpResponse(_stream(request, fh, length), status=status, content_type=content_type)
    response["Content-Length"] = str(length)
    if status == 206:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    if upload.message_type == media.FILE:
        filename = upload.original_name or name.rsplit("/", 1)[-1]
        response["Content-Disposition"] = content_disposition_header(True, filename)
    response["Accept-Ranges"] = "bytes"
    # Never in a shared cache (a CDN, a proxy): the file goes away when its last message is deleted.
    response["Cache-Control"] = "private"
    return _harden(response)


def _harden(response: HttpResponse) -> HttpResponse:
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response
