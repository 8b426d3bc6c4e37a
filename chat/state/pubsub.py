"""For python-socketio's Redis manager (the channel between workers): a bounded reconnect backoff.

Its listener, when Redis goes away, tries again after 1, 2, 4 ... seconds up to 60: cross-worker
delivery came back about 18 s after Redis did. Here it tries every REDIS_RETRY_SECONDS, so that the
channel heals as fast as presence does (chat.state.store). The loop is python-socketio's own
(`AsyncRedisManager._redis_listen_with_retries`, 5.x), with only the delay changed.
"""

from __future__ import annotations

import asyncio

from django.conf import settings


class BoundedReconnect:
    """Mixed in before `socketio.AsyncRedisManager` (chat/sockets/managers.py `ChatRedisManager`)."""

    async def _redis_listen_with_retries(self):
        subscribed = False
        while True:
            try:
                if not subscribed:
                    self._redis_connect()
                    await self.pubsub.subscribe(self.channel)
                    subscribed = True
                async for message in self.pubsub.listen():
                    yield message
            except Exception as exc:  # noqa: BLE001 - python-socketio's own loop catches everything too
                self._get_logger().error(
                    f"Cannot receive from redis... retrying in {settings.REDIS_RETRY_SECONDS} secs",
                    extra={"redis_exception": str(exc)},
                )
                subscribed = False
                await asyncio.sleep(settings.REDIS_RETRY_SECONDS)
