"""Appends one JSON line per push to `PUSH_FILE_PATH`: `{"token", "userId", "title", "body", "data"}`."""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from notifications.backends.base import BasePushBackend, OutgoingPush, PushResult, wire_line

_write_lock = threading.Lock()


class PushBackend(BasePushBackend):
    def __init__(self, *args, file_path: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        path = file_path or settings.PUSH_FILE_PATH
        if not path:
            raise ImproperlyConfigured("the filebased push backend needs PUSH_FILE_PATH")
        self.file_path = Path(path)

    def send_messages(self, pushes: Sequence[OutgoingPush]) -> list[PushResult]:
        if not pushes:
            return []
        lines = "".join(json.dumps(wire_line(p), ensure_ascii=False) + "\n" for p in pushes)
        # One write per batch under a process-wide lock: lines of concurrent batches never interleave.
        with _write_lock:
            self.file_path.parent.mkdir(parents=True, exist_ok=True)
            with self.file_path.open("a", encoding="utf-8") as fh:
                fh.write(lines)
        return [PushResult.sent() for _ in pushes]
