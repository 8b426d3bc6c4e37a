"""`searchMessages` (CONTRACT §9): full-text search over the messages of the user's chats."""

from __future__ import annotations

DEFAULT_SEARCH_PAGE = 20
MAX_SEARCH_PAGE = 100
MAX_QUERY_LENGTH = 200
