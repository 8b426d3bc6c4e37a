"""SQLite's search index triggers (migration 0006_search), put back after every migrate.

SQLite alters a table by building a new one and dropping the old (Django's `_remake_table`), and the
old table's triggers go with it: the FTS5 table `chat_message_fts` keeps its rows (ids survive the copy)
but would stop following inserts, edits and deletes after any later migration that alters
`chat_chatmessage`. A `post_migrate` receiver (chat.apps) creates them again when they are missing.
"""

from __future__ import annotations

TRIGGERS = [
    "CREATE TRIGGER IF NOT EXISTS chat_message_fts_ai AFTER INSERT ON chat_chatmessage"
    " WHEN new.is_deleted = 0 AND new.search_text != ''"
    " BEGIN INSERT INTO chat_message_fts (rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER IF NOT EXISTS chat_message_fts_au AFTER UPDATE OF search_text, is_deleted ON chat_chatmessage"
    " BEGIN DELETE FROM chat_message_fts WHERE rowid = old.id;"
    " INSERT INTO chat_message_fts (rowid, search_text) SELECT new.id, new.search_text"
    " WHERE new.is_deleted = 0 AND new.search_text != ''; END",
    "CREATE TRIGGER IF NOT EXISTS chat_message_fts_ad AFTER DELETE ON chat_chatmessage"
    " BEGIN DELETE FROM chat_message_fts WHERE rowid = old.id; END",
]


def ensure_sqlite_triggers(using: str = "default", **kwargs) -> None:
    """Create the FTS triggers if the FTS table exists and they do not (SQLite only; idempotent)."""
    from django.db import connections

    connection = connections[using]
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'chat_message_fts'")
        if cursor.fetchone() is None:
            return
        for sql in TRIGGERS:
            cursor.execute(sql)
