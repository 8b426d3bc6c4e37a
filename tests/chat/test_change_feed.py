"""The change feed (CONTRACT §9) at the service level: what each write records, what `sync` shows to whom,
paging, retention and pruning, and delivery receipts. On SQLite and (make test-postgres) PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from chat.errors import Forbidden
from chat.models import Change, ChangeCounter, ChatMember
from chat.selectors.changes import changes_page
from chat.services import groups, messages, moderation
from chat.services.changes import changes_prune
from chat.services.chats import chat_direct_get_or_create
from chat.services.friendships import friendship_block, friendship_delete, friendship_request

pytestmark = pytest.mark.django_db


def sync(user, since, limit=200) -> dict:
    return changes_page(user=user, since=since, limit=limit).value


def sync_all(user, since) -> tuple[list[dict], int]:
    """Every change after `since`, page by page as a client does; (changes, final cursor)."""
    changes = []
    while True:
        page = sync(user, since, limit=3)
        changes += page["changes"]
        since = page["cursor"]
        if not page["hasMore"]:
            return changes, since


def send(user, chat, text="hi"):
    message, _ = messages.message_create(sender=user, chat_id=chat.pk, message_type=0, text=text)
    return message


def kinds(changes) -> list[tuple[str, int | None]]:
    return [(c["type"], c["chatHeaderId"]) for c in changes]


@pytest.fixture
def trio(make_user):
    alice, bob, carol = make_user("Alice"), make_user("Bob"), make_user("Carol")
    chat, _ = chat_direct_get_or_create(user=alice, other=bob)
    return alice, bob, carol, chat


def test_since_null_answers_the_current_cursor_and_nothing_else(trio):
    alice, bob, _carol, chat = trio
    send(alice, chat)
    page = sync(bob, None)
    assert page == {"changes": [], "cursor": ChangeCounter.objects.get().head, "hasMore": False}
    assert page["cursor"] > 0
    # Ahead of the feed: an empty page and the current cursor.
    assert sync(bob, page["cursor"] + 100) == page


def test_messages_show_their_current_state_and_deleted_ones_only_as_deleted(trio):
    alice, bob, _carol, chat = trio
    start = sync(bob, None)["cursor"]
    kept, edited, gone = send(alice, chat, "kept"), send(alice, chat, "draft"), send(alice, chat, "oops")
    messages.message_update(user=alice, chat_id=chat.pk, message_id=edited.pk, text="final")
    messages.message_remove(user=alice, chat_id=chat.pk, message_ids=[gone.pk])
    changes, cursor = sync_all(bob, start)
    assert [(c["type"], c["data"].get("id", c["data"].get("messageId"))) for c in changes] == [
        ("message.created", kept.pk),
        ("message.created", edited.pk),
        ("message.updated", edited.pk),
        ("message.deleted", gone.pk),
    ]
    # The created change of an edited message carries its latest text and the seq of that edit.
    created, updated = changes[1]["data"], changes[2]["data"]
    assert created == updated and created["message"] == "final" and created["seq"] == changes[2]["seq"]
    assert "oops" not in str(changes)
    assert [c["seq"] for c in changes] == sorted(c["seq"] for c in changes)
    assert all(c["chatHeaderId"] == chat.pk and c["at"].endswith("Z") for c in changes)
    assert sync(bob, cursor)["changes"] == []


def test_pages_go_oldest_first_with_has_more_and_a_cursor(trio):
    alice, bob, _carol, chat = trio
    start = sync(bob, None)["cursor"]
    sent = [send(alice, chat, f"m{i}").pk for i in range(7)]
    first = sync(bob, start, limit=3)
    assert first["hasMore"] is True and len(first["changes"]) == 3
    assert first["cursor"] == first["changes"][-1]["seq"]
    second = sync(bob, first["cursor"], limit=3)
    third = sync(bob, second["cursor"], limit=3)
    assert (second["hasMore"], third["hasMore"]) == (True, False)
    got = [c["data"]["id"] for page in (first, second, third) for c in page["changes"]]
    assert got == sent
    # A limit of 500+ is clamped, not refused.
    assert len(sync(bob, start, limit=10_000)["changes"]) == 7


def test_a_removed_member_gets_its_own_member_left_and_nothing_of_that_chat_after(trio):
    alice, bob, carol, _chat = trio
    group = groups.group_create(creator=alice, name="G", member_ids=[bob.pk, carol.pk])
    start = sync(bob, None)["cursor"]
    send(alice, group, "before")
    groups.group_member_remove(actor=alice, chat_id=group.pk, user_id=bob.pk)
    send(alice, group, "after")
    messages.chat_mark_read(user=carol, chat_id=group.pk)
    bob_sees, _ = sync_all(bob, start)
    assert kinds(bob_sees) == [("member.left", group.pk)]
    assert bob_sees[0]["data"] == {"userId": str(bob.pk)}
    carol_sees, _ = sync_all(carol, start)
    assert kinds(carol_sees) == [
        ("message.created", group.pk),
        ("member.left", group.pk),
        ("message.created", group.pk),
        ("chat.read", group.pk),
        ("chat.delivered", group.pk),  # what is read has been delivered
    ]
    # Added again later: the chat appears, with what happens from then on, never what was missed.
    again = sync(bob, None)["cursor"]
    send(alice, group, "missed")
    between = sync(bob, None)["cursor"]
    groups.group_members_add(actor=alice, chat_id=group.pk, user_ids=[bob.pk])
    send(alice, group, "welcome back")
    assert [c["type"] for c in sync_all(bob, again)[0]] == ["chat.created", "member.joined", "message.created"]
    back, _ = sync_all(bob, between)
    header, joined, welcome = (c["data"] for c in back)
    assert header["id"] == group.pk and {m["userId"] for m in header["members"]} == {
        str(u.pk) for u in (alice, bob, carol)
    }
    assert joined["userId"] == str(bob.pk) and joined["isOnline"] is False
    assert welcome["message"] == "welcome back"
    assert ChatMember.objects.get(chat=group, user=bob).joined_seq == back[1]["seq"]


def test_new_chats_and_friendships_reach_both_users(trio):
    alice, bob, carol, _chat = trio
    start = sync(carol, None)["cursor"]
    chat, created = chat_direct_get_or_create(user=alice, other=carol)
    assert created
    friendship_request(user=alice, other=carol)
    friendship_delete(user=carol, other=alice)
    carol_sees, _ = sync_all(carol, start)
    assert kinds(carol_sees) == [
        ("chat.created", chat.pk),
        ("friendship.changed", chat.pk),
        ("friendship.changed", chat.pk),
    ]
    assert carol_sees[0]["data"]["name"] == "Alice"  # a one-to-one chat named as carol sees it
    request, gone = carol_sees[1]["data"], carol_sees[2]["data"]
    assert (request["userId"], request["status"], request["direction"]) == (str(alice.pk), 0, "incoming")
    assert (gone["status"], gone["direction"]) == (None, None)
    alice_sees, _ = sync_all(alice, start)
    assert alice_sees[1]["data"]["direction"] == "outgoing" and alice_sees[1]["data"]["userId"] == str(carol.pk)
    # Bob is in neither: he sees none of it.
    assert sync_all(bob, start)[0] == []


def test_reads_and_joins_are_hidden_across_a_block(trio):
    alice, bob, carol, _chat = trio
    group = groups.group_create(creator=alice, name="G", member_ids=[bob.pk])
    friendship_block(user=carol, other=bob)
    start = sync(bob, None)["cursor"]
    groups.group_members_add(actor=alice, chat_id=group.pk, user_ids=[carol.pk])
    send(alice, group, "hello")
    messages.chat_mark_read(user=carol, chat_id=group.pk)
    messages.chat_mark_read(user=alice, chat_id=group.pk)
    bob_sees, _ = sync_all(bob, start)
    assert [(c["type"], c["data"].get("userId")) for c in bob_sees] == [
        ("message.created", str(alice.pk)),
        ("chat.read", str(alice.pk)),
        ("chat.delivered", str(alice.pk)),
    ]


def test_moderators_deletes_and_restores_are_in_the_feed(trio):
    alice, bob, _carol, chat = trio
    message = send(alice, chat, "reported")
    start = sync(bob, None)["cursor"]
    moderation.messages_moderate_delete(message_ids=[message.pk])
    assert kinds(sync(bob, start)["changes"]) == [("message.deleted", chat.pk)]
    middle = sync(bob, None)["cursor"]
    moderation.messages_moderate_restore(message_ids=[message.pk])
    (restored,) = sync(bob, middle)["changes"]
    assert restored["type"] == "message.updated" and restored["data"]["message"] == "reported"
    assert restored["data"]["seq"] == restored["seq"]


def test_a_rolled_back_write_records_nothing(trio):
    alice, bob, _carol, chat = trio
    head = ChangeCounter.objects.get().head
    with pytest.raises(Forbidden):
        messages.message_update(user=bob, chat_id=chat.pk, message_id=send(alice, chat).pk, text="not mine")
    assert ChangeCounter.objects.get().head == head + 1  # the send, not the refused edit
    assert Change.objects.filter(seq__gt=head).count() == 1


def test_delivered_marks_are_high_water_marks_clamped_to_the_newest_message(
    trio, emitted, django_capture_on_commit_callbacks
):
    alice, bob, _carol, chat = trio
    assert messages.chat_mark_delivered(user=bob, chat_id=chat.pk, last_message_id=5) is None  # no messages
    first, second = send(alice, chat), send(alice, chat)
    start = sync(alice, None)["cursor"]
    with django_capture_on_commit_callbacks(execute=True):
        assert messages.chat_mark_delivered(user=bob, chat_id=chat.pk, last_message_id=first.pk) == first.pk
        assert messages.chat_mark_delivered(user=bob, chat_id=chat.pk, last_message_id=10**12) == second.pk
        assert messages.chat_mark_delivered(user=bob, chat_id=chat.pk, last_message_id=first.pk) == second.pk
    assert [e[0] for e in emitted] == ["messageDelivered", "messageDelivered"]
    assert emitted[-1][1] == {"chatHeaderId": chat.pk, "userId": str(bob.pk), "lastDeliveredMessageId": second.pk}
    assert [c["data"]["lastDeliveredMessageId"] for c in sync(alice, start)["changes"]] == [first.pk, second.pk]
    with pytest.raises(Forbidden):
        messages.chat_mark_delivered(user=bob, chat_id=chat.pk + 1000, last_message_id=1)
    # readMessage moves the delivered mark too; a delivered mark never moves the read mark.
    third = send(alice, chat)
    messages.chat_mark_read(user=bob, chat_id=chat.pk)
    member = ChatMember.objects.get(chat=chat, user=bob)
    assert (member.last_read_message_id, member.last_delivered_message_id) == (third.pk, third.pk)


def test_a_cursor_older_than_the_retention_answers_resync_required(trio, settings):
    alice, bob, _carol, chat = trio
    start = sync(bob, None)["cursor"]
    send(alice, chat, "old")
    old_cursor = sync(bob, None)["cursor"]
    send(alice, chat, "new")
    Change.objects.filter(seq__lte=old_cursor).update(at=timezone.now() - timedelta(days=31))
    head = ChangeCounter.objects.get().head
    assert sync(bob, start) == {"resyncRequired": True, "cursor": head}
    assert len(sync(bob, old_cursor)["changes"]) == 1  # its next change is young enough
    settings.CHAT_SYNC_RETENTION_DAYS = 40
    assert len(sync(bob, start)["changes"]) == 2


def test_prune_deletes_what_is_past_retention_and_old_cursors_must_resync(trio):
    alice, bob, _carol, chat = trio
    start = sync(bob, None)["cursor"]
    send(alice, chat, "old")
    boundary = sync(bob, None)["cursor"]
    send(alice, chat, "new")
    Change.objects.filter(seq__lte=boundary).update(at=timezone.now() - timedelta(days=31))
    old = Change.objects.filter(seq__lte=boundary).count()
    before = Change.objects.count()
    call_command("prune_changes", verbosity=0)
    assert Change.objects.count() == before - old
    assert not Change.objects.filter(seq__lte=boundary).exists()
    assert Change.objects.filter(seq__gt=boundary).exists()
    assert ChangeCounter.objects.get().pruned_through == boundary
    assert sync(bob, start)["resyncRequired"] is True
    assert [c["data"]["message"] for c in sync(bob, boundary)["changes"]] == ["new"]
    assert changes_prune() == 0


def test_a_page_costs_the_same_queries_for_10_and_1000_chats(make_user):
    """Counter, page, messages, blocks, new chats' headers: the same queries whatever the user's chats."""
    from chat.models import ChatHeader, ChatType

    alice, bob = make_user("Alice"), make_user("Bob")
    made = [groups.group_create(creator=alice, name=f"G{i}", member_ids=[bob.pk]) for i in range(10)]
    start = sync(bob, None)["cursor"]
    for group in made[:5]:
        send(alice, group)
        messages.chat_mark_read(user=alice, chat_id=group.pk)
    chat, _ = chat_direct_get_or_create(user=alice, other=bob)

    def page_queries() -> tuple[int, list]:
        with CaptureQueriesContext(connection) as captured:
            page = sync(bob, start, limit=100)
        return len(captured.captured_queries), page["changes"]

    ten, changes = page_queries()
    assert len(changes) == 16 and changes[-1]["data"]["id"] == chat.pk
    quiet = ChatHeader.objects.bulk_create(ChatHeader(chat_type=ChatType.GROUP, name=f"X{i}") for i in range(990))
    ChatMember.objects.bulk_create(ChatMember(chat=g, user=bob) for g in quiet)
    assert ChatMember.objects.filter(user=bob).count() == 1001
    thousand, same = page_queries()
    assert same == changes
    assert ten == thousand <= 7


@pytest.mark.django_db(transaction=True)
async def test_the_push_workers_hourly_prune_prunes_the_change_feed_too(make_user, monkeypatch):
    """The in-process delivery loop (notifications.worker) prunes the feed with its outbox, so a server
    without a cron job still keeps only CHAT_SYNC_RETENTION_DAYS."""
    import asyncio

    from asgiref.sync import sync_to_async

    from notifications.worker import DeliveryLoop

    def old_changes() -> int:
        alice, bob = make_user("Alice"), make_user("Bob")
        chat, _ = chat_direct_get_or_create(user=alice, other=bob)
        send(alice, chat)
        Change.objects.update(at=timezone.now() - timedelta(days=31))
        return Change.objects.count()

    assert await sync_to_async(old_changes)() > 0
    monkeypatch.setattr("notifications.worker.PRUNE_EVERY", 0.0)  # "an hour since the last prune"
    loop = DeliveryLoop()
    await loop.start()
    try:
        for _ in range(100):
            if not await sync_to_async(Change.objects.exists)():
                break
            await asyncio.sleep(0.05)
    finally:
        await loop.stop()
    assert not await sync_to_async(Change.objects.exists)()
    assert (await sync_to_async(ChangeCounter.objects.get)()).pruned_through > 0


def test_a_batch_takes_its_seqs_from_the_counter_and_makes_a_missing_one(trio):
    """A createMessage batch's seqs come from one bump of the counter (on PostgreSQL inside the INSERT's
    own statement): the messages and their change rows carry the same consecutive seqs, in order, the
    counter's head is the last; a retry in the batch leaves a gap, never a repeat. A flushed database
    has no counter row: the batch makes it, starting after the newest change that is left."""
    alice, bob, _carol, chat = trio
    send(alice, chat, "before")
    newest = Change.objects.order_by("-seq").values_list("seq", flat=True).first()
    ChangeCounter.objects.all().delete()
    batch = [
        messages.NewMessage(sender=alice if i % 2 else bob, chat_id=chat.pk, message_type=0, text=f"m{i}")
        for i in range(3)
    ]
    stored = [message for message, _ in messages.message_create_many(batch)]
    assert [m.seq for m in stored] == [newest + 1, newest + 2, newest + 3]
    assert ChangeCounter.objects.get().head == newest + 3
    recorded = dict(Change.objects.filter(seq__gt=newest).values_list("seq", "message_id"))
    assert recorded == {m.seq: m.pk for m in stored}
    assert {m.pk: m.seq for m in messages.ChatMessage.objects.filter(pk__in=[m.pk for m in stored])} == {
        m.pk: m.seq for m in stored
    }

    keyed = messages.NewMessage(sender=alice, chat_id=chat.pk, message_type=0, text="k", client_message_id="k1")
    ((first, created),) = messages.message_create_many([keyed])
    assert created and first.seq == newest + 4
    results = messages.message_create_many(
        [keyed, messages.NewMessage(sender=bob, chat_id=chat.pk, message_type=0, text="n")]
    )
    (again, again_created), (fresh, _) = results
    assert (again.pk, again.seq, again_created) == (first.pk, first.seq, False)  # the retry keeps its seq
    assert fresh.seq == newest + 6  # the retry's reserved seq is a gap
    assert ChangeCounter.objects.get().head == newest + 6
    assert Change.objects.filter(seq=newest + 5).count() == 0
