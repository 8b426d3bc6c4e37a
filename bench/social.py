"""Issue 13's figures: `flock /tmp/bench.lock .venv/bin/python bench/social.py [--messages N] [--chats N]`

1. `searchMessages` on PostgreSQL: a database of its own (created, migrated, dropped after; `--keep`
   keeps it) with `--messages` (1,000,000) messages across `--chats` (1,000) group chats of 3 members,
   1 % of them deleted, filled by one INSERT ... SELECT from generate_series over a pool of 5,000
   Arabic, English and mixed texts (with and without harakat) whose `search_text` the server folded
   (chat.search_text), then ANALYZE. A user who is a member of 200 of the chats searches with
   `chat.selectors.search.message_search` (what the socket handler runs in the ORM's thread: the page
   of ids with its total, the DTOs, their reactions) for rare, common, Arabic, mixed, two-word and
   prefix queries. Prints p50 and p99 per query kind and overall, and the plan of one query.
2. A history page (`message_page`, 50 messages) of a chat where every message has 3 reactions and
   every other one is a reply, against a chat of plain messages: p50 of each and the ratio (issue 13:
   at most 1.3x), on the same PostgreSQL database, and on SQLite with `--sqlite`.

Not part of `make test`: it takes minutes.
"""

from __future__ import annotations

import argparse
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
from bench.sync import setup_django  # noqa: E402 - one set-up for both benchmark scripts
from tests.bulk_messages import fill_messages  # noqa: E402 - shared with the admin's million-row test

PG_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"

EN = "meeting report budget project coffee travel invoice schedule client design review offer family weekend".split()
AR = "مرحبا اجتماع تقرير ميزانية مشروع قهوة سفر فاتورة موعد عميل تصميم مراجعة عرض عائلة الأسبوع الكتاب".split()
HARAKAT = "\u064e\u064f\u0650\u0652\u064b"  # fatha, damma, kasra, sukun, tanwin


def with_harakat(word: str, rng: random.Random) -> str:
    return "".join(ch + (rng.choice(HARAKAT) if rng.random() < 0.5 else "") for ch in word)


def pool_texts(n: int, rng: random.Random) -> list[str]:
    texts = []
    for i in range(n):
        kind = i % 3
        words = []
        for _ in range(rng.randint(4, 14)):
            if kind == 0 or (kind == 2 and rng.random() < 0.5):
                words.append(rng.choice(EN).capitalize() if rng.random() < 0.2 else rng.choice(EN))
            else:
                word = rng.choice(AR)
                words.append(with_harakat(word, rng) if rng.random() < 0.3 else word)
        words.append(f"code{i}")  # a rare word: one text of the pool (1 in 5,000 messages)
        texts.append(" ".join(words))
    return texts


def fill_postgres(*, messages: int, chats: int, member_of: int) -> object:
    from django.db import connection

    from chat.models import ChatHeader, ChatMember, ChatType, User
    from chat.search_text import document

    rng = random.Random(13)
    searcher = User.objects.create_user(name="Searcher")
    others = User.objects.bulk_create([User(id=uuid.uuid4(), name=f"U{i}") for i in range(2 * chats)])
    headers = ChatHeader.objects.bulk_create([ChatHeader(chat_type=ChatType.GROUP, name=f"g{i}") for i in range(chats)])
    members = []
    for i, chat in enumerate(headers):
        members += [ChatMember(chat=chat, user=others[2 * i]), ChatMember(chat=chat, user=others[2 * i + 1])]
        if i < member_of:
            members.append(ChatMember(chat=chat, user=searcher))
    ChatMember.objects.bulk_create(members)
    texts = pool_texts(5000, rng)
    with connection.cursor() as cursor:
        cursor.execute("SET statement_timeout = 0")  # the fill and the index builds take minutes
        cursor.execute("CREATE TEMP TABLE pool (i int PRIMARY KEY, message text, search_text text)")
        cursor.executemany("INSERT INTO pool VALUES (%s, %s, %s)", [(i, t, document(t)) for i, t in enumerate(texts)])
        fill_messages(
            cursor,
            ours={
                "chat_id": "c.ids[1 + g %% %(chats)s]",
                "sender_id": "u.ids[1 + g %% %(users)s]",
                "message_type": "0",
                "message": "p.message",
                "search_text": "p.search_text",
                "creation_time": "now() - (%(messages)s - g) * interval '4 seconds'",
                "is_deleted": "g %% 100 = 0",
                "deletion_time": "CASE WHEN g %% 100 = 0 THEN now() END",
            },
            source="generate_series(1, %(messages)s) g JOIN pool p ON p.i = (g::bigint * 7919) %% 5000, "
            "(SELECT array_agg(id ORDER BY id) ids FROM chat_chatheader) c, "
            "(SELECT array_agg(id ORDER BY id) ids FROM chat_user WHERE name <> 'Searcher') u",
            params={"chats": chats, "users": 2 * chats, "messages": messages},
        )
    return searcher


def timed(fn, runs: int) -> list[float]:
    fn()  # warm
    out = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


def bench_search(searcher, runs: int) -> None:
    from django.db import connection

    from chat.search_text import query_words
    from chat.selectors.search import _postgres_query, _postgres_sql, message_search

    kinds = {
        "rare word (200 in the table)": ["code17", "code4242", "code999", "code3"],
        "common English": ["meeting", "Budget", "coffee"],
        "common Arabic": ["اجتماع", "مَشْرُوع", "كتاب"],
        "two words, mixed": ["meeting مرحبا", "تقرير report"],
        "another common Arabic word": ["ميزانية", "فاتورة"],
    }
    everything = []
    print(f"\nsearchMessages, {runs} runs per query (ms):")
    for kind, queries in kinds.items():
        times = []
        total = None
        for query in queries:
            times += timed(lambda q=query: message_search(user=searcher, query=q), runs)
            total = message_search(user=searcher, query=queries[0])["totalCount"]
        everything += times
        print(
            f"  {kind:28s} p50 {pct(times, 0.5):7.2f}  p99 {pct(times, 0.99):7.2f}  totalCount({queries[0]!r}) {total}"
        )
    print(f"  {'all':28s} p50 {pct(everything, 0.5):7.2f}  p99 {pct(everything, 0.99):7.2f}")
    uid = searcher.pk.hex if connection.vendor != "postgresql" else searcher.pk
    with connection.cursor() as cursor:
        match = _postgres_query(query_words("meeting"))
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + _postgres_sql(False), [match, uid, match, 20, 0])
        print("\nplan of 'meeting':\n  " + "\n  ".join(row[0] for row in cursor.fetchall()))


def bench_history(runs: int) -> tuple[float, float]:
    from chat.models import ChatHeader, ChatMember, ChatType, Reaction, User
    from chat.selectors.messages import message_page
    from chat.services.messages import NewMessage, message_create_many

    a, b, c = (User.objects.create_user(name=n) for n in ("HA", "HB", "HC"))
    plain, social = (ChatHeader.objects.create(chat_type=ChatType.GROUP, name=n) for n in ("plain", "social"))
    for chat in (plain, social):
        ChatMember.objects.bulk_create([ChatMember(chat=chat, user=u) for u in (a, b, c)])
    for chat in (plain, social):
        last = None
        for start in range(0, 1000, 50):
            batch = []
            for i in range(start, start + 50):
                reply = last.pk if (chat is social and last is not None and i % 2) else None
                batch.append(
                    NewMessage(
                        sender=(a, b)[i % 2],
                        chat_id=chat.pk,
                        message_type=0,
                        text=f"message {i} " + "lorem ipsum " * 5,
                        reply_to_id=reply,
                    )
                )
            results = message_create_many(batch)
            last = results[-1][0]
    messages = list(social.messages.all())
    Reaction.objects.bulk_create(
        Reaction(message=m, user=u, emoji=e) for m in messages for u, e in ((a, "👍"), (b, "👍"), (c, "🎉"))
    )
    page = message_page(user=a, chat_id=social.pk, limit=50)["items"]
    assert all(m["reactions"] for m in page) and sum(m["replyTo"] is not None for m in page) >= 24
    # Alternated, so that the machine's other load falls on both alike.
    times = {plain.pk: [], social.pk: []}
    for _ in range(runs):
        for chat_id in (plain.pk, social.pk):
            started = time.perf_counter()
            message_page(user=a, chat_id=chat_id, limit=50)
            times[chat_id].append((time.perf_counter() - started) * 1000)
    return statistics.median(times[plain.pk]), statistics.median(times[social.pk])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--chats", type=int, default=1000)
    parser.add_argument("--member-of", type=int, default=200)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database")
    parser.add_argument("--sqlite", action="store_true", help="also the history page on SQLite")
    args = parser.parse_args()

    if args.sqlite and os.environ.get("BENCH_SOCIAL_SQLITE_CHILD"):
        setup_django(f"sqlite:///{os.environ['BENCH_SOCIAL_SQLITE_CHILD']}")
        plain, social = bench_history(args.runs * 3)
        print(
            f"history page (50) on SQLite: plain p50 {plain:.2f} ms, reactions+replies p50 {social:.2f} ms, "
            f"ratio {social / plain:.2f}x"
        )
        return

    import psycopg

    name = f"bench_social_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        setup_django(f"postgres://postgres@127.0.0.1:5432/{name}")
        started = time.monotonic()
        searcher = fill_postgres(messages=args.messages, chats=args.chats, member_of=args.member_of)
        print(
            f"filled {args.messages:,} messages in {args.chats:,} chats in {time.monotonic() - started:.0f} s "
            f"(the searcher is in {args.member_of} of them) on database {name}"
        )
        bench_search(searcher, args.runs)
        plain, social = bench_history(args.runs * 3)
        print(
            f"\nhistory page (50) on PostgreSQL: plain p50 {plain:.2f} ms, reactions+replies p50 {social:.2f} ms, "
            f"ratio {social / plain:.2f}x"
        )
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    if args.sqlite:
        import subprocess

        with tempfile.TemporaryDirectory() as tmp:
            env = {**os.environ, "BENCH_SOCIAL_SQLITE_CHILD": str(Path(tmp) / "bench.sqlite3")}
            subprocess.run([sys.executable, __file__, "--sqlite", "--runs", str(args.runs)], env=env, check=True)


if __name__ == "__main__":
    main()
