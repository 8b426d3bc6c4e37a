"""State outside the database: presence, viewing and rate limits, in memory or in Redis."""
