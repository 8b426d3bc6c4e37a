"""Many chat_chatmessage rows in one statement, for the tests and benchmarks that need a big table
(not collected: no `test_` prefix). PostgreSQL only."""

from __future__ import annotations


def fill_messages(cursor, *, ours: dict[str, str], source: str, params: dict) -> None:
    """INSERT … SELECT into chat_chatmessage: `ours` gives the SQL of some columns over `source` (the rest of
    the statement: generate_series as `g` and whatever it joins), every other column (one added later too)
    its default; `params` fills both.

    Faster than row by row: the rows are consistent by construction, so no foreign-key trigger per row
    (session_replication_role, as pg_restore does), and the secondary indexes are dropped first and built
    once after; then ANALYZE.
    """
    from django.db import connection

    from chat.models import ChatMessage

    columns, values, params = [], [], dict(params)
    for field in ChatMessage._meta.concrete_fields:
        if field.primary_key:
            continue
        columns.append(connection.ops.quote_name(field.column))
        if field.column in ours:
            values.append(ours[field.column])
        else:
            params[field.column] = field.get_db_prep_save(field.get_default(), connection)
            values.append(f"%({field.column})s")
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'chat_chatmessage' "
        "AND indexname NOT IN (SELECT conname FROM pg_constraint)"
    )
    indexes = cursor.fetchall()
    for name, _ in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    cursor.execute("SET session_replication_role = replica")
    cursor.execute(
        f"INSERT INTO chat_chatmessage ({', '.join(columns)}) SELECT {', '.join(values)} FROM {source}", params
    )
    cursor.execute("SET session_replication_role = DEFAULT")
    for _, definition in indexes:
        cursor.execute(definition)
    cursor.execute("ANALYZE")
