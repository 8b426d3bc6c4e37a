"""State outside the database: presence, viewing and rate limits, in memory or in Redis.

One async layer (`store.get_state()`), awaited on the event loop by the transports, never from the ORM's
thread and never inside a database transaction; with `REDIS_URL` one `redis.asyncio` connection pool per
process serves all of it.
"""
