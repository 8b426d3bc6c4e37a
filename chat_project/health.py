"""`GET /healthz`: is the database (and Redis, when configured) answering?

An async view: the Redis check is a PING through the state layer (chat.state), so in a server it goes
over the same connection pool that presence and rate limits use and proves that pool works; the
database check runs in the ORM's thread as every query does.
"""

from __future__ import annotations

import asyncio

from asgiref.sync import sync_to_async
from django.db import connection
from django.http import JsonResponse

from chat.state.store import get_state

REDIS_PING_TIMEOUT = 2.0


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


async def _check_redis() -> str:
    await asyncio.wait_for(get_state().ping(), REDIS_PING_TIMEOUT)
    return "ok"


async def healthz(request):
    checks = {"database": sync_to_async(_check_database)}
    if get_state().shared:
        checks["redis"] = _check_redis
    report = {}
    healthy = True
    for name, check in checks.items():
        try:
            report[name] = await check()
        except Exception as exc:  # noqa: BLE001 - a health check reports, it does not raise
            report[name] = f"error: {exc.__class__.__name__}"
            healthy = False
    return JsonResponse({"status": "ok" if healthy else "error", "checks": report}, status=200 if healthy else 503)
