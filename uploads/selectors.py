"""Reads over uploads."""

from __future__ import annotations

from uploads.models import Upload


def upload_matches(*, path: str, message_type: int) -> bool:
    """Whether `path` is what `uploadFile` returned for an upload of `message_type`."""
    return Upload.objects.filter(path=path, message_type=message_type).exists()
