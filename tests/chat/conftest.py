"""Fixtures of the service tests."""

from __future__ import annotations

import pytest

from chat.events import bridge


@pytest.fixture
def emitted(monkeypatch):
    """What the services hand to the socket server once their transaction commits."""
    sent = []
    monkeypatch.setattr(bridge, "emit", lambda event, data, **kw: sent.append((event, data, kw["room"])))
    return sent
