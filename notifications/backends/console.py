"""Writes each push to stdout, one JSON line each (the default: nothing leaves the machine)."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Sequence

from notifications.backends.base import BasePushBackend, OutgoingPush, PushResult, wire_line


class PushBackend(BasePushBackend):
    def __init__(self, *args, stream=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.stream = stream or sys.stdout
        self._lock = threading.RLock()

    def send_messages(self, pushes: Sequence[OutgoingPush]) -> list[PushResult]:
        with self._lock:
            for push in pushes:
                self.stream.write("push " + json.dumps(wire_line(push), ensure_ascii=False) + "\n")
            self.stream.flush()
        return [PushResult.sent() for _ in pushes]
