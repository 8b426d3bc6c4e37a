"""`GET /healthz`: is the database (and Redis, when configured) answering?

An async view; both checks run at once and each has its deadline, so the answer comes within
CHAT_HEALTH_TIMEOUT_SECONDS whatever hangs (README, "Failure modes"):

- the database check opens a connection of its own, in a small thread pool of its own: not through the
  ORM's one thread, where it would wait behind a stuck call and tell nothing until that call ends;
- the Redis check is a PING through the state layer (chat.state), so in a server it goes over the same
  connection pool that presence and rate limits use and proves that pool works; while a worker that lost
  Redis has not yet published its presence there again, it says "error: recovering".
"""

from __future__ import annotations

import asyncio
import concurrent.futures

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.http import JsonResponse

from chat.state.store import get_state

REDIS_PING_TIMEOUT = 2.0
# Threads for the database check; checks that find both stuck (a hung database) wait for one and time out.
_executor = concurrent.futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix="healthz")


def _check_database() -> str:
    connection = connections.create_connection(DEFAULT_DB_ALIAS)
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        connection.close()
    return "ok"


async def _database() -> str:
    loop = asyncio.get_running_loop()
    await asyncio.wait_for(loop.run_in_executor(_executor, _check_database), settings.CHAT_HEALTH_TIMEOUT_SECONDS)
    return "ok"


async def _redis() -> str:
    state = get_state()
    await asyncio.wait_for(state.ping(), min(REDIS_PING_TIMEOUT, settings.CHAT_HEALTH_TIMEOUT_SECONDS))
    if state.redis.down:
        # Answering again, but this worker still works from its own memory until it has published its
        # presence there again (within REDIS_RETRY_SECONDS).
        return "error: recovering"
    return "ok"


async def _report(check) -> tuple[bool, str]:
    try:
        text = await check()
        return text == "ok", text
    except Exception as exc:  # noqa: BLE001 - a health check reports, it does not raise
        return False, f"error: {exc.__class__.__name__}"


async def healthz(request):
    checks = {"database": _database}
    if get_state().shared:
        checks["redis"] = _redis
    results = await asyncio.gather(*(_report(check) for check in checks.values()))
    healthy = all(ok for ok, _ in results)
    report = {name: text for name, (_, text) in zip(checks, results, strict=True)}
    return JsonResponse({"status": "ok" if healthy else "error", "checks": report}, status=200 if healthy else 503)
