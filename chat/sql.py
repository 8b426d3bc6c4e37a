"""The cursor of the write path's hand-written statements (the group commit's checks, INSERTs and
UPDATEs, the change counter, the push devices).

On PostgreSQL these run as prepared statements: each batch sends the same few short statements (arrays
for rows, chat/services/messages.py), and parsing and planning them anew cost about 0.2 ms apiece in
every batch (bench/write_path.py). Django keeps client-side binding and no prepared
statements for everything else (its default, which connection poolers in transaction mode need), so
only these statements use a server-side-binding cursor that prepares what it runs, on the same
connection and transaction. It is wrapped as `connection.cursor()` wraps its own: Django's error
classes, the broken-transaction check and execute wrappers apply; while queries are logged (DEBUG, a
test that counts them) Django's own cursor runs them, as psycopg keeps no text of a prepared run.
Each keeps one generic plan (`plan_cache_mode=force_generic_plan`, set on the connection by settings):
PostgreSQL's own choice re-planned the send-access check at every run, its generic plan looking costlier
on paper (0.49 ms of planning at each bind; the generic plan binds and runs in 0.18 ms); every
one of these statements looks rows up by key through an index, whatever its parameters.
`DB_PREPARED_STATEMENTS=false` (a pooler that cannot keep prepared statements, such as PgBouncer before
1.21 in transaction mode) or SQLite: `connection.cursor()` itself.
"""

from __future__ import annotations

from functools import cache

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections


def hot_cursor():
    """A cursor for a hand-written hot statement, used as `connection.cursor()` is (`with ... as c:`)."""
    db = connections[DEFAULT_DB_ALIAS]
    if db.vendor != "postgresql" or not settings.DB_PREPARED_STATEMENTS or db.queries_logged:
        # While queries are logged (DEBUG, a test counting them), Django's own cursor: psycopg keeps no
        # text of a prepared statement's run for Django's log to show.
        return db.cursor()
    db.ensure_connection()
    with db.wrap_database_errors:
        if db.connection.prepare_threshold is None:
            # Django turns psycopg's preparing off (None), which refuses even an explicit prepare=True.
            # Only this cursor asks for it (Django's own are client-side binding, which never prepares):
            # a threshold no statement reaches keeps psycopg from preparing anything by itself.
            db.connection.prepare_threshold = 2**31 - 1
        raw = _prepared_cursor_class()(db.connection)
    return db._prepare_cursor(raw)  # Django's own wrapping of a new cursor (errors, execute wrappers)


@cache
def _prepared_cursor_class():
    from django.db.backends.postgresql.base import ServerBindingCursor

    class PreparedCursor(ServerBindingCursor):
        """Server-side binding, each statement prepared on its connection at its first run."""

        def execute(self, query, params=None, *, prepare=None, binary=None):
            return super().execute(query, params, prepare=True if prepare is None else prepare, binary=binary)

    return PreparedCursor


def array_param(field, db=None) -> str:
    """A `%s` placeholder for a PostgreSQL array of `field`'s values (`unnest(...)`, `= ANY(...)`)."""
    return f"%s::{field.cast_db_type(db or connections[DEFAULT_DB_ALIAS])}[]"
