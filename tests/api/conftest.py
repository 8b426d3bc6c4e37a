"""REST fixtures: authenticated API clients for users made through the real token code."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from chat.tokens import issue_token


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def api():
    """`api(user)`: an APIClient with the user's Bearer token; `api()` has none."""

    def factory(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_token(user.pk)}")
        return client

    return factory
