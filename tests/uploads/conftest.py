"""The REST fixtures of tests/api, for the upload tests."""

from tests.api.conftest import api, media_root  # noqa: F401
