"""How fast is a findAllMessages page? `.venv/bin/python bench/history_page.py [--big N] [--small N] [--runs N]`

Fills a throw-away SQLite database (a temp DATABASE_URL file, same settings as production SQLite:
WAL, IMMEDIATE) with one chat of 200,000 messages and one of 1,000, interleaved the way a busy table
is (the small chat is sparse: one of its rows every ~200), 1% of them soft-deleted. Then times
`chat.selectors.messages.message_page` (membership, visible count, then the page, as the socket
handler calls it) for: the newest page, a deep keyset page (`lastMessageId` near the oldest), and for
comparison a deep OFFSET page (`skipCount`) and the count query alone; then the write services behind
createMessage and readMessage, with and without the push hook. Prints median and p95 in ms and
SQLite's query plans.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup_django(db_path: Path) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chat_project.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("PUSH_WORKER_IN_PROCESS", "0")
    os.environ["CHAT_RATE_LIMIT"] = "0"  # benchmarks turn the limit off (CONTRACT §4)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def fill(big: int, small: int):
    from django.db import transaction
    from django.utils import timezone

    from chat.models import ChatMessage, User
    from chat.services.chats import chat_direct_get_or_create, chat_message_counts_refresh

    alice = User.objects.create_user(name="Alice")
    bob = User.objects.create_user(name="Bob")
    carol = User.objects.create_user(name="Carol")
    big_chat, _ = chat_direct_get_or_create(user=alice, other=bob)
    small_chat, _ = chat_direct_get_or_create(user=alice, other=carol)

    every = max(1, big // max(1, small))
    now = timezone.now()
    batch: list[ChatMessage] = []
    made = {"big": 0, "small": 0}
    started = time.perf_counter()

    def flush():
        with transaction.atomic():
            ChatMessage.objects.bulk_create(batch, batch_size=1000)
        batch.clear()

    for i in range(big):
        sender = alice if i % 2 else bob
        batch.append(
            ChatMessage(chat=big_chat, sender=sender, message=f"message number {i} " + "x" * 40, creation_time=now)
        )
        made["big"] += 1
        if i % every == 0 and made["small"] < small:
            batch.append(ChatMessage(chat=small_chat, sender=carol, message=f"small {i}", creation_time=now))
            made["small"] += 1
        if len(batch) >= 10_000:
            flush()
    while made["small"] < small:
        batch.append(ChatMessage(chat=small_chat, sender=carol, message="small tail", creation_time=now))
        made["small"] += 1
    flush()
    # 1% soft-deleted, spread over both chats.
    ChatMessage.objects.filter(id__regex=r"00$").update(is_deleted=True, deletion_time=now)
    chat_message_counts_refresh(chat_ids=[big_chat.pk, small_chat.pk])  # rows written around the services
    print(f"filled {made['big']:,} + {made['small']:,} messages in {time.perf_counter() - started:.1f} s")
    return alice, big_chat, small_chat


def timed(fn, runs: int) -> tuple[float, float]:
    fn()  # warm the page cache and statement cache
    samples = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    return statistics.median(samples), samples[min(len(samples) - 1, int(len(samples) * 0.95))]


def plan(sql: str, params) -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}", params)
        return "; ".join(row[-1] for row in cursor.fetchall())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", type=int, default=200_000)
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--no-what-if", action="store_true", help="skip the run with a partial index added")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="history-bench-") as tmp:
        setup_django(Path(tmp) / "bench.sqlite3")
        from django.db import connection

        from chat.models import ChatMessage

        alice, big_chat, small_chat = fill(args.big, args.small)
        print(f"sqlite {connection.Database.sqlite_version}; {args.runs} runs each; times in ms (median / p95)")
        run_cases(alice, big_chat, small_chat, args.runs)
        if not args.no_what_if:
            # What the schema would gain from a partial index over the visible messages (the same
            # DDL a migration would emit): the count becomes an index-only scan.
            from django.db import models
            from django.db.models import Q

            index = models.Index(fields=["chat", "-id"], condition=Q(is_deleted=False), name="chatmessage_visible_idx")
            with connection.schema_editor() as editor:
                editor.add_index(ChatMessage, index)
            print("\n=== what-if: with a partial index (chat, -id) WHERE NOT is_deleted ===")
            run_cases(alice, big_chat, small_chat, args.runs)
            print("\n(the writes below maintain the what-if index too; --no-what-if for the schema as it is)")
        run_writes(alice, small_chat, args.runs * 10)  # last: it adds messages to the small chat


def run_writes(alice, chat, runs: int) -> None:
    """The services behind createMessage and readMessage, one call each as a handler's one hop makes it."""
    from chat.models import ChatMember
    from chat.services import messages as message_services
    from notifications import services as notification_services

    reader = ChatMember.objects.filter(chat=chat).exclude(user=alice).select_related("user").first().user

    def send():
        message_services.message_create(sender=alice, chat_id=chat.pk, message_type=0, text="hello")

    def read():
        message_services.chat_mark_read(user=reader, chat_id=chat.pk)

    print(f"\n{'write (one call, one transaction)':<52}{'median':>9}{'p95':>9}")
    for name, fn in (("message_create", send), ("chat_mark_read", read)):
        med, p95 = timed(fn, runs)
        print(f"{name:<52}{med:9.3f}{p95:9.3f}")
    hooks = notification_services.messages_created, notification_services.chat_read
    notification_services.messages_created = lambda **kwargs: None
    notification_services.chat_read = lambda **kwargs: None
    try:
        for name, fn in (("message_create, push hook stubbed", send), ("chat_mark_read, push hook stubbed", read)):
            med, p95 = timed(fn, runs)
            print(f"{name:<52}{med:9.3f}{p95:9.3f}")
    finally:
        notification_services.messages_created, notification_services.chat_read = hooks


def run_cases(alice, big_chat, small_chat, runs: int) -> None:
    from chat import dtos
    from chat.models import ChatMessage
    from chat.selectors.messages import message_page

    print(f"\n{'case':<52}{'median':>9}{'p95':>9}")
    for sparse, chat in ((False, big_chat), (True, small_chat)):
        ids = list(ChatMessage.objects.filter(chat=chat, is_deleted=False).order_by("id").values_list("id", flat=True))
        label = f"chat of {len(ids):,} visible" + (" (sparse)" if sparse else "")
        deep_cursor = ids[max(len(ids) // 20, 100)]  # far back in history, with a full page below it
        deep_offset = len(ids) - max(len(ids) // 20, 100)
        cases = [
            ("newest page (50)", dict(limit=50)),
            ("newest page (100)", dict(limit=100)),
            ("deep keyset page (lastMessageId, 50)", dict(before_id=deep_cursor, limit=50)),
            (f"deep OFFSET page (skipCount={deep_offset:,})", dict(skip=deep_offset, limit=50)),
        ]
        for name, kwargs in cases:
            page = message_page(user=alice, chat_id=chat.pk, **kwargs)
            assert len(page["items"]) == kwargs["limit"], (name, len(page["items"]))
            med, p95 = timed(lambda kw=kwargs, c=chat: message_page(user=alice, chat_id=c.pk, **kw), runs)
            print(f"{label + ': ' + name:<52}{med:9.2f}{p95:9.2f}")
        visible = ChatMessage.objects.filter(chat=chat, is_deleted=False)
        med, p95 = timed(visible.count, runs)
        print(f"{label + ': visible count query alone':<52}{med:9.2f}{p95:9.2f}")
        page_qs = visible.filter(id__lt=deep_cursor).order_by("-id").values(*dtos.MESSAGE_DTO_VALUES)[:50]
        med, p95 = timed(lambda q=page_qs: list(q.all()), runs)
        print(f"{label + ': keyset page query alone':<52}{med:9.2f}{p95:9.2f}")

    sql, params = (
        ChatMessage.objects.filter(chat=big_chat, is_deleted=False, id__lt=10**9)
        .order_by("-id")
        .values(*dtos.MESSAGE_DTO_VALUES)[:50]
        .query.sql_with_params()
    )
    print("plan, page: ", plan(sql, params))
    sql, params = ChatMessage.objects.filter(chat=big_chat, is_deleted=False).values("id").query.sql_with_params()
    print("plan, count:", plan(f"SELECT COUNT(*) FROM ({sql})", params))


if __name__ == "__main__":
    main()
