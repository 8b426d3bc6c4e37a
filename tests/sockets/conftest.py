"""Fixtures of the socket tests."""

from __future__ import annotations

import pytest

from tests.sockets._message_helpers import make_scene


@pytest.fixture
async def scene(clients, make_user):
    """Alice and Bob with a shared chat and four sockets, Carol a stranger: see `make_scene`."""
    return await make_scene(clients, make_user)
