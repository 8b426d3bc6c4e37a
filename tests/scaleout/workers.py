"""Two uvicorn workers on one fresh PostgreSQL database and one Redis channel of their own, as the
scale-out tests start them (not collected: no `test_` prefix)."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
import uuid
from pathlib import Path

import redis

from chat.state.redis_keys import delete_keys_with_prefix
from tests.conftest import fresh_postgres_database
from tests.processes import ServerProcess as Worker


@contextlib.contextmanager
def two_workers(name: str, redis_url: str, **env: str):
    """Two healthy workers; `env` on top of the database, Redis, channel and media folder. A value may
    name `{work}`, the folder of this run (their logs and media), e.g. a push file. Everything started,
    made or published is stopped, dropped or deleted after."""
    channel = f"chat-{name}-{uuid.uuid4().hex[:10]}"
    work = Path(tempfile.mkdtemp(prefix=f"chat-{name}-"))
    try:
        with fresh_postgres_database(
            f"chat_{name}",
            REDIS_URL=redis_url,
            SOCKETIO_CHANNEL=channel,
            MEDIA_ROOT=str(work / "media"),
            **{key: value.format(work=work) for key, value in env.items()},
        ) as full_env:
            started = [Worker(full_env, work / "worker1.log"), Worker(full_env, work / "worker2.log")]
            try:
                for worker in started:
                    worker.wait_healthy()
                yield started
            finally:
                for worker in started:
                    worker.stop()
    finally:
        keys = redis.Redis.from_url(redis_url)
        delete_keys_with_prefix(keys, channel)
        keys.close()
        shutil.rmtree(work, ignore_errors=True)
