# searchMessages on PostgreSQL: rank from a stored tsvector instead of an expression index. ts_rank needs
# each matching row's vector, and with only an expression index PostgreSQL parsed search_text again for
# every match (12 ms for 4,800 matches in bench/social.py); a generated column is parsed once, on write.
# Django does not know the column: every query that uses it is hand-written (chat.selectors.search).

from django.db import migrations

PG_FORWARD = [
    "DROP INDEX IF EXISTS chatmessage_search_gin_idx",
    "ALTER TABLE chat_chatmessage ADD COLUMN search_vector tsvector"
    " GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, search_text)) STORED",
    "CREATE INDEX chatmessage_search_vector_idx ON chat_chatmessage USING gin (search_vector)",
]
PG_BACKWARD = [
    "DROP INDEX IF EXISTS chatmessage_search_vector_idx",
    "ALTER TABLE chat_chatmessage DROP COLUMN IF EXISTS search_vector",
    "CREATE INDEX chatmessage_search_gin_idx ON chat_chatmessage USING gin (to_tsvector('simple'::regconfig, search_text))",
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in PG_FORWARD:
            schema_editor.execute(sql)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for sql in PG_BACKWARD:
            schema_editor.execute(sql)


class Migration(migrations.Migration):

    dependencies = [
        ('chat', '0006_search'),
    ]

    operations = [migrations.RunPython(forward, backward)]
