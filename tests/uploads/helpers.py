"""Uploading through the REST client, as every upload test does."""

from __future__ import annotations

from django.core.files.uploadedfile import SimpleUploadedFile

from tests.api.helpers import ok

URL = "/api/chat/uploadFile"


def upload(client, content: bytes, name: str, message_type, content_type="application/octet-stream"):
    """POST one file to uploadFile; the response."""
    return client.post(
        URL,
        {"file": SimpleUploadedFile(name, content, content_type=content_type), "messageType": message_type},
        format="multipart",
    )


def uploaded(client, content: bytes, name: str, message_type) -> str:
    """Upload one file that must be accepted; the path uploadFile returned."""
    return ok(upload(client, content, name, message_type), 201)
