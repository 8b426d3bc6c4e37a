"""Fixtures for the push tests: the locmem backend's outbox, devices, and waiting for delivery."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from notifications.backends import locmem
from notifications.models import Device, Push, PushState
from tests.conftest import run_sync

LOCMEM = "notifications.backends.locmem.PushBackend"


@pytest.fixture
def outbox(settings):
    """PUSH_BACKEND = locmem; its outbox, empty at the start of the test."""
    settings.PUSH_BACKEND = LOCMEM
    settings.PUSH_RETRY_BASE_SECONDS = 5
    settings.PUSH_MAX_ATTEMPTS = 8
    locmem.outbox.clear()
    yield locmem.outbox
    locmem.outbox.clear()


def add_device(user, *, platform: str = "android", token: str | None = None) -> Device:
    """Register a device the way the REST endpoint does."""
    from notifications.devices import device_register

    token = token or f"{platform}-{uuid.uuid4().hex}"
    device, _ = run_sync(device_register, user=user, token=token, platform=platform)
    return device


def queue_message(make_user, *, due, devices: int = 1) -> list[Push]:
    """Alice writes to Bob through the real services; the pushes queued for Bob's `devices`, due at `due`."""
    from django.db import transaction

    from chat.services.chats import chat_direct_get_or_create
    from chat.services.messages import message_create

    def make():
        alice, bob = make_user("Alice"), make_user("Bob")
        for _ in range(devices):
            add_device(bob)
        chat, _ = chat_direct_get_or_create(user=alice, other=bob)
        with transaction.atomic():
            message_create(sender=alice, chat_id=chat.pk, message_type=0, text="hi")
        Push.objects.filter(user=bob).update(next_attempt_at=due)
        return list(Push.objects.filter(user=bob).order_by("id"))

    return run_sync(make)


def push_rows(**filters) -> list[Push]:
    return run_sync(lambda: list(Push.objects.filter(**filters).order_by("id")))


async def delivered(timeout: float = 5.0) -> None:
    """Wait until the in-process delivery loop has finished every queued push."""
    deadline = time.monotonic() + timeout
    busy = [PushState.PENDING, PushState.SENDING]
    while run_sync(lambda: Push.objects.filter(state__in=busy).exists()):
        if time.monotonic() > deadline:
            raise AssertionError(f"pushes still queued: {push_rows(state__in=busy)}")
        await asyncio.sleep(0.02)


def recipients(outbox, *, kind: str = "message") -> list[str]:
    """User ids the outbox holds pushes of `kind` for, one entry per push (i.e. per device)."""
    return sorted(p.user_id for p in outbox if p.kind == kind)


async def _on_server_loop(coro_fn):
    from chat.events import bridge

    if bridge.loop is None or bridge.loop.is_closed():
        return False
    await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(coro_fn(), bridge.loop))
    return True


@pytest.fixture
async def server_delivery_stopped():
    """The live server's delivery loop stopped (as at shutdown) for the test, started again after."""
    from notifications import in_process

    stopped = in_process.current_loop() is not None and await _on_server_loop(in_process.stop_delivery)

    async def restart() -> None:
        nonlocal stopped
        if await _on_server_loop(in_process.start_delivery):
            stopped = False

    yield restart
    if stopped:
        await _on_server_loop(in_process.start_delivery)
