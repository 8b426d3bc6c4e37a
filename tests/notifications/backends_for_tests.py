"""Push backends that tests name in PUSH_BACKEND (not collected: no `test_` prefix)."""

from __future__ import annotations

import threading
import time

from notifications.backends.base import BasePushBackend, Outcome, PushResult
from notifications.backends.locmem import PushBackend as LocmemBackend

SLOW_SECONDS = 2.0
slow_started = threading.Event()


class SlowBackend(LocmemBackend):
    """A provider that takes 2 s per send."""

    def send_messages(self, pushes):
        slow_started.set()
        time.sleep(SLOW_SECONDS)
        return super().send_messages(pushes)


class Script:
    """What `ScriptedBackend` answers next: a list of PushResult (one per call, for every item)."""

    answers: list[PushResult] = []
    calls: list[list] = []


class ScriptedBackend(BasePushBackend):
    def send_messages(self, pushes):
        Script.calls.append(list(pushes))
        answer = Script.answers.pop(0) if Script.answers else PushResult(Outcome.SENT)
        return [answer for _ in pushes]


class SlowFileBackend(BasePushBackend):
    """The filebased backend, 50 ms per batch: several worker processes overlap in their claims."""

    def send_messages(self, pushes):
        from notifications.backends.filebased import PushBackend

        time.sleep(0.05)
        return PushBackend().send_messages(pushes)
