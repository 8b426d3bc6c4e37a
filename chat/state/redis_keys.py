"""Small helpers over the Redis keys this server owns (presence, rate limits)."""

from __future__ import annotations


def delete_keys_with_prefix(client, prefix: str) -> None:
    """Delete every key under `prefix:` with a synchronous client (tests, scripts).

    SCAN, not KEYS, so Redis never blocks on a large keyspace."""
    batch = []
    for key in client.scan_iter(match=f"{prefix}:*", count=500):
        batch.append(key)
        if len(batch) >= 500:
            client.delete(*batch)
            batch.clear()
    if batch:
        client.delete(*batch)


async def adelete_keys_with_prefix(client, prefix: str) -> None:
    """`delete_keys_with_prefix` with a `redis.asyncio` client."""
    batch = []
    async for key in client.scan_iter(match=f"{prefix}:*", count=500):
        batch.append(key)
        if len(batch) >= 500:
            await client.delete(*batch)
            batch.clear()
    if batch:
        await client.delete(*batch)
