"""The change feed's writes (CONTRACT §9): every change a member can see gets a `seq` in one order for the
whole cluster, written in the transaction of the change itself.

Order safety. A client that synced up to C must never later miss a change with a smaller seq that
commits after its sync. A PostgreSQL sequence hands numbers out before commit, so seq 5 can commit after
seq 6 has been read. Here seqs come from one counter row instead (`ChangeCounter`): a transaction that
records changes bumps it (`UPDATE ... SET head = head + n RETURNING head`) and holds its row lock until
it commits or rolls back. The next transaction's bump waits for that, so seqs commit in the order they
were handed out, and a reader that sees seq S committed sees every seq below S committed too
(`chat.selectors.changes` reads `head` first and pages only up to it). A rolled-back transaction gives
its numbers back with its bump; a committed one may leave some reserved numbers unused (gaps are fine).

Deadlocks. The counter is the *first* row lock a recording transaction takes: a transaction that holds
it then waits only for locks of transactions that do not wait for it. So every service reserves its
seqs (`changes_reserve(n)`, n an upper bound) before its first write or `SELECT ... FOR UPDATE`, and
writes the rows it recorded with one INSERT (`ChangeLog.write`) before it commits. Group commit
(chat.sockets.message_batch) reserves once per batch and inserts the batch's rows in one statement: on
PostgreSQL the messages' own INSERT, which carries them as a CTE (`ChangeLog.rows_from_sql`), and the
bump too, as the CTE the INSERT's seqs come from (`changes_reserve_in_statement`): the batch's reads
come first, and the counter is held only from that statement to the commit.

The price: transactions that record changes commit one after another across workers (each worker's
ORM writes already go one at a time). SQLite serialises every writer anyway (IMMEDIATE transactions).
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from chat.models import Change, ChangeCounter, ChangeKind, User
from chat.sql import hot_cursor


@cache
def _bump_sql() -> str:
    q = connection.ops.quote_name
    table = q(ChangeCounter._meta.db_table)
    return f"UPDATE {table} SET {q('head')} = {q('head')} + %s WHERE {q('id')} = 1 RETURNING {q('head')}"


def _counter_row_sql(head_plus: str = "") -> str:
    # A flushed database (tests) has no counter row: it starts after the newest change that is left
    # (`head_plus`: added to that head).
    q = connection.ops.quote_name
    counter, change = q(ChangeCounter._meta.db_table), q(Change._meta.db_table)
    return (
        f"INSERT INTO {counter} ({q('id')}, {q('head')}, {q('pruned_through')})"
        f" SELECT 1, COALESCE(MAX({q('seq')}), 0){head_plus}, 0 FROM {change} WHERE 1 = 1 ON CONFLICT ({q('id')})"
    )


@cache
def _create_counter_sql() -> str:
    return _counter_row_sql() + " DO NOTHING"


_COLUMNS = ("seq", "kind", "chat_id", "audience_id", "message_id", "at", "data")


@cache
def _insert_sql(rows: int) -> str:
    q = connection.ops.quote_name
    values = ", ".join(["(" + ", ".join(["%s"] * len(_COLUMNS)) + ")"] * rows)
    return f"INSERT INTO {q(Change._meta.db_table)} ({', '.join(q(c) for c in _COLUMNS)}) VALUES {values}"


@cache
def _unnest_sql() -> str:
    # PostgreSQL: one array per column, whatever the number of rows. psycopg binds client-side, so a
    # VALUES list of 7 parameters a row was quoted into the statement value by value and parsed by the
    # server again: ~2x the time of this for a batch of 50.
    q = connection.ops.quote_name
    types = "bigint[], smallint[], bigint[], uuid[], bigint[], timestamptz[], jsonb[]".split(", ")
    arrays = ", ".join(f"%s::{t}" for t in types)
    return (
        f"INSERT INTO {q(Change._meta.db_table)} ({', '.join(q(c) for c in _COLUMNS)}) SELECT * FROM unnest({arrays})"
    )


@cache
def _rows_from_sql(source: str) -> str:
    q = connection.ops.quote_name
    field = Change._meta.get_field
    return (
        f"INSERT INTO {q(Change._meta.db_table)} ({', '.join(q(c) for c in _COLUMNS)})"
        f" SELECT {source}.{q('seq')}, %s::{field('kind').cast_db_type(connection)}, {source}.{q('chat_id')},"
        f" NULL, {source}.{q('id')}, %s::{field('at').cast_db_type(connection)}, NULL FROM {source}"
    )


@cache
def _bump_cte_sql() -> str:
    # PostgreSQL: `_bump_sql` as an upsert, for a CTE: a flushed database's missing counter row is made
    # as `_create_counter_sql` makes it, in the same statement; returns the number before the first seq.
    q = connection.ops.quote_name
    head = q("head")
    return (
        _counter_row_sql(" + %s")
        + f" DO UPDATE SET {head} = {q(ChangeCounter._meta.db_table)}.{head} + %s RETURNING {head} - %s AS base"
    )


class ChangeLog:
    """The changes of one transaction: seqs reserved by one counter bump, rows written by one INSERT."""

    __slots__ = ("_end", "_next", "_rows", "at")

    def __init__(self, first: int, count: int) -> None:
        self._next = first
        self._end = first + count
        self._rows: list[tuple] = []
        self.at = timezone.now()

    def take(self) -> int:
        """The next reserved seq, for a row that is added later (a message's seq goes into its INSERT)."""
        if self._next >= self._end:
            raise RuntimeError("more changes than were reserved")
        seq = self._next
        self._next += 1
        return seq

    def add(
        self,
        kind: ChangeKind,
        *,
        chat_id: int | None = None,
        audience_id=None,
        message_id: int | None = None,
        data: dict | None = None,
        seq: int | None = None,
    ) -> int:
        """Record one change (written by `write`); returns its seq (`seq`: one from `take`)."""
        if seq is None:
            seq = self.take()
        self._rows.append((seq, int(kind), chat_id, audience_id, message_id, data))
        return seq

    def bump_sql(self) -> tuple[str, list]:
        """PostgreSQL, for a log of `changes_reserve_in_statement`: (the counter's bump, its parameters),
        a CTE of the statement that writes the changes, whose one row's `base` turns the seqs that
        `take` handed out (1, 2, ...) into the real ones (base + 1, base + 2, ...)."""
        count = self._end - 1
        return _bump_cte_sql(), [count, count, count]

    def rows_from_sql(self, source: str, kind: ChangeKind) -> tuple[str, list]:
        """PostgreSQL: (an INSERT, its parameters) of one change of `kind` per row of `source`, a CTE of
        the statement it becomes part of, with the columns `seq` (reserved by this log), `chat_id` and
        `id` (the message's): the changes of the rows that statement writes, in the same round trip."""
        return _rows_from_sql(source), [int(kind), self.at]

    def write(self) -> None:
        """Insert the recorded changes, in one statement. Call it before the transaction commits."""
        rows, self._rows = self._rows, []
        if not rows:
            return
        if connection.vendor == "postgresql":
            self._write_arrays(rows)
            return
        at = Change._meta.get_field("at").get_db_prep_value(self.at, connection)
        user_pk = User._meta.pk
        data_field = Change._meta.get_field("data")
        params: list = []
        for seq, kind, chat_id, audience_id, message_id, data in rows:
            params += (
                seq,
                kind,
                chat_id,
                None if audience_id is None else user_pk.get_db_prep_value(audience_id, connection),
                message_id,
                at,
                None if data is None else data_field.get_db_prep_save(data, connection),
            )
        with connection.cursor() as cursor:
            cursor.execute(_insert_sql(len(rows)), params)

    def _write_arrays(self, rows: list[tuple]) -> None:
        from psycopg.types.json import Jsonb

        columns = list(zip(*rows, strict=True))
        seqs, kinds, chats, audiences, message_ids, datas = columns
        params = [
            list(seqs),
            list(kinds),
            list(chats),
            list(audiences),
            list(message_ids),
            [self.at] * len(rows),
            [None if data is None else Jsonb(data) for data in datas],
        ]
        with hot_cursor() as cursor:
            cursor.execute(_unnest_sql(), params)


def changes_reserve(count: int) -> ChangeLog:
    """Reserve `count` seqs (an upper bound of the changes the transaction will record) with one
    counter bump. Inside a transaction, before its first row lock (see the module's docstring)."""
    if not connection.in_atomic_block:
        raise RuntimeError("changes are recorded inside the transaction of what they record")
    if count <= 0:
        return ChangeLog(0, 0)
    with hot_cursor() as cursor:
        cursor.execute(_bump_sql(), [count])
        row = cursor.fetchone()
        if row is None:
            cursor.execute(_create_counter_sql())
            cursor.execute(_bump_sql(), [count])
            row = cursor.fetchone()
    head = row[0]
    return ChangeLog(head - count + 1, count)


def changes_reserve_in_statement(count: int) -> ChangeLog:
    """PostgreSQL: `changes_reserve`, with the counter's bump left to a CTE of the statement that writes
    the changes (`ChangeLog.bump_sql`): a round trip fewer, and the counter held from that statement to
    the commit only. Until that statement runs, `take` hands out seqs relative to its `base` (1, 2, ...).
    The bump is still the transaction's first row lock if that statement is its first write and the
    bump is what the statement's other parts wait for (the rows take their seqs from it)."""
    if not connection.in_atomic_block:
        raise RuntimeError("changes are recorded inside the transaction of what they record")
    return ChangeLog(1, count)


# --- pruning -------------------------------------------------------------------------------------

PRUNE_CHUNK = 5000


def changes_prune(*, now=None, retention_days: int | None = None) -> int:
    """Delete the changes older than `CHAT_SYNC_RETENTION_DAYS`; returns how many.

    Oldest first in chunks of `PRUNE_CHUNK` (by seq, the primary key: no index on `at` to keep on every
    write), up to the first change that is still young enough; `ChangeCounter.pruned_through` then says
    which cursors are too old to resume from (`sync` answers them `resyncRequired`).
    """
    days = settings.CHAT_SYNC_RETENTION_DAYS if retention_days is None else retention_days
    cutoff = (now or timezone.now()) - timedelta(days=days)
    deleted = 0
    while True:
        oldest = list(Change.objects.order_by("seq").values_list("seq", "at")[:PRUNE_CHUNK])
        doomed = [seq for seq, at in oldest if at < cutoff]
        if not doomed:
            return deleted
        # A change older than the cutoff behind a younger one (their clocks differ by a commit): the
        # first young one ends the prune, so that `pruned_through` never passes a change that is kept.
        young = next((seq for seq, at in oldest if at >= cutoff), None)
        last = doomed[-1] if young is None else max((s for s in doomed if s < young), default=None)
        if last is None:
            return deleted
        with transaction.atomic():
            count, _ = Change.objects.filter(seq__lte=last).delete()
            if not ChangeCounter.objects.filter(pk=1).exists():
                with connection.cursor() as cursor:
                    cursor.execute(_create_counter_sql())
            ChangeCounter.objects.filter(pk=1, pruned_through__lt=last).update(pruned_through=last)
        deleted += count
        if young is not None or len(oldest) < PRUNE_CHUNK:
            return deleted
