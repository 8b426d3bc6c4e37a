# searchMessages (CONTRACT §9): the folded words of each message (chat.search_text) and their index:
# on PostgreSQL a GIN index over to_tsvector('simple', search_text); on SQLite an FTS5 table
# (unicode61, remove_diacritics) that triggers keep in step with every insert, edit, delete and restore.

import chat.models
from django.db import migrations

from chat.search_text import document

PG_INDEX = "chatmessage_search_gin_idx"
SQLITE_FTS = [
    "CREATE VIRTUAL TABLE chat_message_fts USING fts5(search_text, tokenize = 'unicode61 remove_diacritics 2')",
    "CREATE TRIGGER chat_message_fts_ai AFTER INSERT ON chat_chatmessage"
    " WHEN new.is_deleted = 0 AND new.search_text != ''"
    " BEGIN INSERT INTO chat_message_fts (rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER chat_message_fts_au AFTER UPDATE OF search_text, is_deleted ON chat_chatmessage"
    " BEGIN DELETE FROM chat_message_fts WHERE rowid = old.id;"
    " INSERT INTO chat_message_fts (rowid, search_text) SELECT new.id, new.search_text"
    " WHERE new.is_deleted = 0 AND new.search_text != ''; END",
    "CREATE TRIGGER chat_message_fts_ad AFTER DELETE ON chat_chatmessage"
    " BEGIN DELETE FROM chat_message_fts WHERE rowid = old.id; END",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS chat_message_fts_ad",
    "DROP TRIGGER IF EXISTS chat_message_fts_au",
    "DROP TRIGGER IF EXISTS chat_message_fts_ai",
    "DROP TABLE IF EXISTS chat_message_fts",
]


def backfill(apps, schema_editor):
    """Existing messages get their words (in chunks by id); on SQLite the update trigger indexes them."""
    ChatMessage = apps.get_model("chat", "ChatMessage")
    last = 0
    while True:
        rows = list(
            ChatMessage.objects.filter(id__gt=last).order_by("id").values_list("id", "message_type", "message", "caption")[:2000]
        )
        if not rows:
            return
        for pk, message_type, message, caption in rows:
            text = document(message if message_type == 0 else "", caption)
            if text:
                ChatMessage.objects.filter(pk=pk).update(search_text=text)
        last = rows[-1][0]


def create_index(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX {PG_INDEX} ON chat_chatmessage USING gin (to_tsvector('simple'::regconfig, search_text))"
        )
    elif vendor == "sqlite":
        for sql in SQLITE_FTS:
            schema_editor.execute(sql)


def drop_index(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {PG_INDEX}")
    elif vendor == "sqlite":
        for sql in SQLITE_DROP:
            schema_editor.execute(sql)


class Migration(migrations.Migration):

    dependencies = [
        ('chat', '0005_social'),
    ]

    operations = [
        migrations.AddField(
            model_name='chatmessage',
            name='search_text',
            field=chat.models.SearchTextField(blank=True, default='', editable=False),
        ),
        migrations.RunPython(create_index, drop_index),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
