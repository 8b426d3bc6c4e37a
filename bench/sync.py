"""How fast does a client catch up? `.venv/bin/python bench/sync.py [--changes N] [--chats N] [--limit N]`

Issue 12's figure: `sync` of 10,000 changes across 200 chats. Fills a throw-away database (a temp
SQLite file with production's settings, or `--database-url postgres://...`, a database of its own
that is created and dropped) through the real services: one reader in 200 chats (one-to-one and groups)
whose partners send messages in group-committed batches, edit some, delete some and read, so that the
feed holds about N changes the reader may see, interleaved with as many in chats the reader is not in
(the index has to skip them). Then a client that was away from the start pages through all of it:

  - in-process: `chat.selectors.changes.changes_page`, what the `sync` handler runs in the ORM's thread
    (its queries and the DTOs);
  - over the wire: a uvicorn server on the same database and a python-socketio client calling `sync`
    until `hasMore` is false (the handler, the ack's JSON, the socket).

Prints pages per second, changes per second, and median/p99 per page, for each.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup_django(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chat_project.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["PUSH_WORKER_IN_PROCESS"] = "0"
    os.environ["CHAT_RATE_LIMIT"] = "0"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def fill(*, changes: int, chats: int, seed: int = 1):
    """A reader in `chats` chats and about `changes` changes it may see; as many it may not."""
    from chat.models import ChangeCounter, User
    from chat.services import groups, messages
    from chat.services.chats import chat_direct_get_or_create
    from chat.services.messages import NewMessage, message_create_many

    rng = random.Random(seed)
    reader = User.objects.create_user(name="Reader")
    partners = [User.objects.create_user(name=f"P{i}") for i in range(chats)]
    mine = []
    for i, partner in enumerate(partners):
        if i % 4:
            mine.append(chat_direct_get_or_create(user=reader, other=partner)[0])
        else:
            mine.append(groups.group_create(creator=partner, name=f"G{i}", member_ids=[reader.pk]))
    others = [chat_direct_get_or_create(user=partners[i], other=partners[i + 1])[0] for i in range(0, chats - 1, 2)]
    since = ChangeCounter.objects.get().head
    sender_of = {chat.pk: next(p for p in partners if chat.memberships.filter(user=p).exists()) for chat in mine}
    made = 0
    started = time.perf_counter()
    while made < changes:
        batch = [rng.choice(mine) for _ in range(50)]
        stored = message_create_many(
            [
                NewMessage(sender=sender_of[c.pk], chat_id=c.pk, message_type=0, text=f"m{made + i}")
                for i, c in enumerate(batch)
            ]
        )
        foreign = [rng.choice(others) for _ in range(50)]
        message_create_many(
            [NewMessage(sender=c.memberships.first().user, chat_id=c.pk, message_type=0, text="x") for c in foreign]
        )
        made += len(batch)
        for message, _ in stored[:5]:
            messages.message_update(user=message.sender, chat_id=message.chat_id, message_id=message.pk, text="edited")
        message, _ = stored[5]
        messages.message_remove(user=message.sender, chat_id=message.chat_id, message_ids=[message.pk])
        for chat in batch[:4]:
            messages.chat_mark_read(user=sender_of[chat.pk], chat_id=chat.pk)
        made += 5 + 1 + 8
    print(f"filled in {time.perf_counter() - started:.1f} s: ~{made} changes for the reader in {chats} chats")
    return reader, since


RESULTS: dict[str, dict] = {}


def report(what: str, times: list[float], changes: int) -> None:
    total = sum(times)
    ordered = sorted(times)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    RESULTS[what.split(",")[0].replace(" ", "_").replace("-", "_")] = {
        "pages": len(times),
        "changes": changes,
        "pages_per_s": round(len(times) / total, 1),
        "changes_per_s": round(changes / total),
        "median_ms": round(statistics.median(times) * 1000, 2),
        "p99_ms": round(p99 * 1000, 2),
    }
    print(
        f"{what}: {len(times)} pages, {changes} changes in {total:.2f} s: {len(times) / total:.0f} pages/s, "
        f"{changes / total:.0f} changes/s; per page median {statistics.median(times) * 1000:.1f} ms, "
        f"p99 {p99 * 1000:.1f} ms"
    )


def in_process(reader, since: int, limit: int) -> int:
    from chat.selectors.changes import changes_page

    times, total, cursor = [], 0, since
    while True:
        started = time.perf_counter()
        page = changes_page(user=reader, since=cursor, limit=limit).value
        times.append(time.perf_counter() - started)
        total += len(page["changes"])
        cursor = page["cursor"]
        if not page["hasMore"]:
            break
    report(f"in-process, limit {limit}", times, total)
    return total


async def over_the_wire(url: str, reader, since: int, limit: int) -> int:
    import socketio

    from chat.tokens import issue_token

    client = socketio.AsyncClient(reconnection=False)
    await client.connect(
        f"{url}?userId={reader.pk}", auth={"accessToken": issue_token(reader.pk)}, transports=["websocket"]
    )
    times, total, cursor = [], 0, since
    try:
        while True:
            started = time.perf_counter()
            page = await client.call("sync", {"since": cursor, "limit": limit}, timeout=30)
            times.append(time.perf_counter() - started)
            total += len(page["changes"])
            cursor = page["cursor"]
            if not page["hasMore"]:
                break
    finally:
        await client.disconnect()
    report(f"over the wire, limit {limit}", times, total)
    return total


class _NoLog:
    """The change log switched off, for the cost figure only: seqs handed out, nothing written."""

    def __init__(self, count: int) -> None:
        self._next = 1

    def take(self) -> int:
        self._next += 1
        return self._next

    def add(self, kind, *, seq=None, **fields) -> int:
        return seq if seq is not None else self.take()

    def write(self) -> None:
        pass

    def rows_from_sql(self, source: str, kind) -> tuple[str, list]:
        return f"SELECT 1 FROM {source} WHERE false", []  # a CTE that writes nothing (PostgreSQL)

    def bump_sql(self) -> tuple[str, list]:
        return "SELECT 0::bigint AS base", []  # no counter (PostgreSQL: the CTE the seqs are relative to)


def write_cost(*, rounds: int = 200) -> None:
    """createMessage's write service with and without the change log (its counter bump and its one
    INSERT per batch), batches of 1, 10 and 50, interleaved so that both see the same machine."""
    from chat.models import User
    from chat.services import messages as message_services
    from chat.services.chats import chat_direct_get_or_create
    from chat.services.messages import NewMessage, message_create_many
    from notifications import services as notification_services

    notification_services.messages_created = lambda **kwargs: None  # pushes are not the log's cost
    real_reserve = message_services.changes_reserve
    real_in_statement = message_services.changes_reserve_in_statement  # PostgreSQL's
    users = [User.objects.create_user(name=f"W{i}") for i in range(100)]
    chats = [chat_direct_get_or_create(user=users[i], other=users[i + 1])[0] for i in range(0, 100, 2)]
    for size in (1, 10, 50):
        times = {"with the log": [], "without": []}
        for round_ in range(rounds):
            for label in ("with the log", "without") if round_ % 2 else ("without", "with the log"):
                logged = label == "with the log"
                message_services.changes_reserve = real_reserve if logged else _NoLog
                message_services.changes_reserve_in_statement = real_in_statement if logged else _NoLog
                batch = [
                    NewMessage(sender=users[2 * (i % 50)], chat_id=chats[i % 50].pk, message_type=0, text="x")
                    for i in range(size)
                ]
                started = time.perf_counter()
                message_create_many(batch)
                times[label].append(time.perf_counter() - started)
        message_services.changes_reserve = real_reserve
        message_services.changes_reserve_in_statement = real_in_statement
        with_log, without = (statistics.median(times[k]) * 1000 for k in ("with the log", "without"))
        RESULTS[f"write_batch_{size}"] = {"with_ms": round(with_log, 3), "without_ms": round(without, 3)}
        print(
            f"message_create_many, batch of {size}: {without:.2f} ms without the log, {with_log:.2f} ms with it "
            f"(median of {rounds}): +{(with_log / without - 1) * 100:.0f}% per batch, "
            f"{size / with_log * 1000:.0f} vs {size / without * 1000:.0f} msg/s in this thread"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--changes", type=int, default=10_000)
    parser.add_argument("--chats", type=int, default=200)
    parser.add_argument("--limit", type=int, default=200, help="the page size clients ask for (1..500)")
    parser.add_argument("--database-url", default="", help="postgres://... (a database of that name is made)")
    parser.add_argument(
        "--write-cost", action="store_true", help="also time createMessage's write with and without the log"
    )
    parser.add_argument("--json", action="store_true", help="end with one JSON line of the figures (for bench/run.py)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    pg_name = None
    if args.database_url:
        import psycopg

        pg_name = f"bench_sync_{uuid.uuid4().hex[:8]}"
        base = args.database_url.rsplit("/", 1)[0]
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{pg_name}"')
        database_url = f"{base}/{pg_name}"
    else:
        database_url = f"sqlite:///{work / 'bench.sqlite3'}"
    server = None
    try:
        setup_django(database_url)
        reader, since = fill(changes=args.changes, chats=args.chats)
        in_process(reader, since, args.limit)
        if args.write_cost:
            write_cost()

        from django.db import connection

        connection.close()
        from tests.processes import ServerProcess

        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
        env.update(DATABASE_URL=database_url, LOG_LEVEL="WARNING", PUSH_WORKER_IN_PROCESS="0")
        server = ServerProcess(env, work / "server.log")
        server.wait_healthy()
        asyncio.run(over_the_wire(server.url, reader, since, args.limit))
        if args.json:
            import json

            print(json.dumps({"sync": RESULTS, "limit": args.limit, "chats": args.chats}))
    finally:
        if server is not None:
            server.stop()
        if pg_name is not None:
            import psycopg
            from django.db import connections

            connections.close_all()
            with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{pg_name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
