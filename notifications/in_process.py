"""Runs the push delivery loop inside the socket server process (ASGI lifespan).

Started and stopped by `chat_project.lifecycle`. Off with `PUSH_WORKER_IN_PROCESS=false`, for
deployments that run `manage.py run_push_worker` instead.
"""

from __future__ import annotations

from django.conf import settings

from notifications.worker import DeliveryLoop

_loop: DeliveryLoop | None = None


async def start_delivery() -> None:
    global _loop
    if not settings.PUSH_WORKER_IN_PROCESS:
        return
    _loop = DeliveryLoop()
    await _loop.start()


async def stop_delivery() -> None:
    global _loop
    if _loop is not None:
        await _loop.stop()
        _loop = None


def current_loop() -> DeliveryLoop | None:
    return _loop
