"""Fixtures of the socket tests."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import run_sync
from tests.sockets._message_helpers import make_scene
from tests.uploads import files

# A small file of each media type that the upload service accepts.
_SAMPLES = {
    1: ("voice.mp3", files.mp3),
    2: ("photo.png", files.png),
    3: ("report.txt", lambda: b"report"),
    4: ("clip.mp4", files.mp4),
}


@pytest.fixture
async def scene(clients, make_user):
    """Alice and Bob with a shared chat and four sockets, Carol a stranger: see `make_scene`."""
    return await make_scene(clients, make_user)


@pytest.fixture
def uploaded(settings, tmp_path):
    """`uploaded(user, message_type)`: the path of a file `user` uploaded, stored by the upload service
    as POST /api/chat/uploadFile stores it (under a MEDIA_ROOT of the test's own)."""
    from uploads.services import upload_create

    settings.MEDIA_ROOT = tmp_path / "media"

    def factory(uploader, message_type: int) -> str:
        name, content = _SAMPLES[message_type]
        file = SimpleUploadedFile(name, content())
        return run_sync(lambda: upload_create(uploader=uploader, message_type=message_type, file=file).path)

    return factory
