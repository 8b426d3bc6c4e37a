"""Order safety of the change feed (CONTRACT §9, chat.services.changes): concurrent writers, a reader
syncing in a loop meanwhile; the reader never misses a change and never gets one twice.

Real threads, each with its own database connection, so on PostgreSQL (make test-postgres) the writers'
transactions overlap for real. Each writer holds its transaction open a little between taking its seqs
and committing (the window in which a sequence-based feed would let a later seq commit first and a
reader's cursor skip the earlier one).
"""

from __future__ import annotations

import random
import threading
import time

import pytest
from django.db import connection

from chat.models import Change, ChangeKind, ChatMember, ChatMessage
from chat.selectors.changes import changes_page
from chat.services import changes as change_services
from chat.services import groups, messages
from chat.services.chats import chat_direct_get_or_create
from chat.services.messages import NewMessage, message_create_many

pytestmark = [pytest.mark.timeout(120)]

WRITERS = 4
ROUNDS = 25


@pytest.fixture
def slow_commits(monkeypatch):
    """Every change-writing transaction waits 0-4 ms after taking its seqs, before its rows and commit."""
    real_write = change_services.ChangeLog.write

    def write(self):
        time.sleep(random.random() * 0.004)
        real_write(self)

    monkeypatch.setattr(change_services.ChangeLog, "write", write)


def _in_thread(fn, errors: list):
    def run():
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connection.close()

    return threading.Thread(target=run)


def test_a_reader_syncing_while_others_write_never_misses_or_repeats(transactional_db, make_user, slow_commits):
    reader = make_user("Reader")
    writers = [make_user(f"W{i}") for i in range(WRITERS)]
    shared = groups.group_create(creator=reader, name="everyone", member_ids=[w.pk for w in writers])
    own = [chat_direct_get_or_create(user=reader, other=w)[0] for w in writers]
    cursor = changes_page(user=reader, since=None).value["cursor"]

    done = threading.Event()
    errors: list[BaseException] = []
    received: list[int] = []

    def write(index: int):
        writer, direct = writers[index], own[index]
        rng = random.Random(index)
        for round_ in range(ROUNDS):
            batch = [
                NewMessage(sender=writer, chat_id=rng.choice([shared.pk, direct.pk]), message_type=0, text=f"{round_}")
                for _ in range(rng.randint(1, 4))
            ]
            stored = [r[0] for r in message_create_many(batch)]
            action = rng.random()
            if action < 0.3:
                messages.message_update(user=writer, chat_id=stored[0].chat_id, message_id=stored[0].pk, text="edit")
            elif action < 0.5:
                messages.message_remove(user=writer, chat_id=stored[-1].chat_id, message_ids=[stored[-1].pk])
            elif action < 0.8:
                messages.chat_mark_read(user=writer, chat_id=rng.choice([shared.pk, direct.pk]))

    def read():
        since = cursor
        while True:
            finished = done.is_set()  # read before the page: a page after the last commit ends the loop
            page = changes_page(user=reader, since=since, limit=7).value
            received.extend(change["seq"] for change in page["changes"])
            since = page["cursor"]
            if finished and not page["hasMore"]:
                return

    threads = [_in_thread(lambda i=i: write(i), errors) for i in range(WRITERS)]
    reader_thread = _in_thread(read, errors)
    reader_thread.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    reader_thread.join()
    assert errors == []

    # Everything the reader may see; the message changes of messages deleted since may be left out (once
    # deleted, a message is only its `message.deleted`), whether the reader got them before or not.
    deleted = set(ChatMessage.objects.filter(is_deleted=True).values_list("id", flat=True))
    my_chats = set(ChatMember.objects.filter(user=reader).values_list("chat_id", flat=True))
    visible, optional = [], set()
    for seq, kind, chat_id, audience_id, message_id in (
        Change.objects.filter(seq__gt=cursor)
        .order_by("seq")
        .values_list("seq", "kind", "chat_id", "audience_id", "message_id")
    ):
        if audience_id == reader.pk or (audience_id is None and chat_id in my_chats):
            visible.append(seq)
            if kind in (ChangeKind.MESSAGE_CREATED, ChangeKind.MESSAGE_UPDATED) and message_id in deleted:
                optional.add(seq)
    assert len(received) == len(set(received)), "a change arrived twice"
    assert received == sorted(received), "changes arrived out of seq order"
    missing = sorted(set(visible) - optional - set(received))
    assert missing == [], f"{len(missing)} change(s) missed"
    assert set(received) <= set(visible)
    assert len(visible) > WRITERS * ROUNDS and len(received) > len(optional)  # they wrote; the reader saw it
