"""Keeps pushes in `outbox`, a module-level list, as Django's locmem mail backend does (for tests)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from notifications.backends.base import BasePushBackend, OutgoingPush, PushResult

outbox: list[OutgoingPush] = []
_lock = threading.Lock()


class PushBackend(BasePushBackend):
    def send_messages(self, pushes: Sequence[OutgoingPush]) -> list[PushResult]:
        with _lock:
            outbox.extend(pushes)
        return [PushResult.sent() for _ in pushes]
