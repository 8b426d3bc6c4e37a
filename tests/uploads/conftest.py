"""The REST fixtures of tests/api, for the upload tests, and small upload limits."""

import pytest

from tests.api.conftest import api, media_root  # noqa: F401


@pytest.fixture
def small_limits(settings):
    """Upload limits of a few kilobytes, so that a test can cross them cheaply."""
    settings.UPLOAD_MAX_AUDIO_BYTES = settings.UPLOAD_MAX_IMAGE_BYTES = 20_000
    settings.UPLOAD_MAX_FILE_BYTES = 20_000
    settings.UPLOAD_MAX_VIDEO_BYTES = 50_000
    settings.UPLOAD_MULTIPART_OVERHEAD_BYTES = 1_000
    return 51_000  # the largest body any upload may have
