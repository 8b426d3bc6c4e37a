"""Group commit (`message_create_many`): many messages in one transaction, each with its own answer.

Run on SQLite and, by `make test-postgres`, on PostgreSQL.
"""

from __future__ import annotations

import pytest
from django.db import connection

from chat import domain_events
from chat.errors import Blocked, Forbidden, Invalid, RateLimited
from chat.models import ChatHeader, ChatMessage
from chat.services.chats import chat_direct_get_or_create
from chat.services.friendships import friendship_block
from chat.services.messages import NewMessage, message_create, message_create_many

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def scene(make_user):
    alice, bob, carol = make_user("Alice"), make_user("Bob"), make_user("Carol")
    ab, _ = chat_direct_get_or_create(user=alice, other=bob)
    bc, _ = chat_direct_get_or_create(user=bob, other=carol)
    return alice, bob, carol, ab, bc


def text(sender, chat, body="hi", **kwargs) -> NewMessage:
    return NewMessage(sender=sender, chat_id=chat.pk, message_type=0, text=body, **kwargs)


def test_each_message_of_a_batch_gets_its_own_answer(scene, emitted):
    alice, bob, carol, ab, bc = scene
    friendship_block(user=carol, other=bob)
    results = message_create_many(
        [
            text(alice, ab, "one"),
            text(alice, ab, "   "),  # invalid: empty after trimming
            text(alice, bc, "not my chat"),  # forbidden
            text(bob, bc, "across a block"),  # blocked
            text(bob, ab, "over the limit", over_rate_limit=True),  # rate limited
            text(bob, ab, "two"),
        ]
    )
    assert [type(r) for r in results[1:5]] == [Invalid, Forbidden, Blocked, RateLimited]
    (first, created_1), (second, created_2) = results[0], results[5]
    assert created_1 and created_2 and first.pk < second.pk
    assert list(ChatMessage.objects.order_by("id").values_list("message", flat=True)) == ["one", "two"]
    assert [(e, d["chatMessage"]["message"]) for e, d, _ in emitted] == [("message", "one"), ("message", "two")]
    header = ChatHeader.objects.get(pk=ab.pk)
    assert (header.message_count, header.last_message_id) == (2, second.pk)


def test_a_retry_and_its_original_in_one_batch_store_one_message(scene, emitted):
    alice, bob, _carol, ab, _bc = scene
    earlier, _ = message_create(sender=bob, chat_id=ab.pk, message_type=0, text="earlier", client_message_id="b-1")
    results = message_create_many(
        [
            text(alice, ab, "hello", client_message_id="a-1"),
            text(alice, ab, "hello", client_message_id="a-1"),  # the same retry, twice in one batch
            text(bob, ab, "earlier", client_message_id="b-1"),  # a retry of a message stored before
            text(bob, ab, "earlier", client_message_id="b-1", over_rate_limit=True),  # retries are never limited
        ]
    )
    (original, created), (copy, copy_created) = results[0], results[1]
    assert created and not copy_created and copy.pk == original.pk
    assert [(m.pk, c) for m, c in results[2:]] == [(earlier.pk, False), (earlier.pk, False)]
    assert ChatMessage.objects.filter(client_message_id="a-1").count() == 1
    assert ChatMessage.objects.count() == 2
    assert [d["chatMessage"]["id"] for _, d, _ in emitted] == [earlier.pk, original.pk]  # one broadcast each
    assert ChatHeader.objects.get(pk=ab.pk).message_count == 2


def test_a_retry_is_matched_on_sender_chat_and_id_together(scene, emitted):
    """The retry lookup matches each (sender, chat, clientMessageId) whole: the same id from another
    sender, or from the same sender in another chat, is a new message, in one batch or across two."""
    alice, bob, carol, ab, bc = scene
    stored, _ = message_create(sender=bob, chat_id=ab.pk, message_type=0, text="first", client_message_id="x")
    results = message_create_many(
        [
            text(bob, bc, "other chat", client_message_id="x"),  # Bob, same id, his other chat: new
            text(alice, ab, "other sender", client_message_id="x"),  # Alice, same id, same chat: new
            text(carol, bc, "third", client_message_id="x"),  # Carol's own "x": new
            text(bob, ab, "first", client_message_id="x"),  # Bob's retry in ab: the original
        ]
    )
    assert [created for _, created in results] == [True, True, True, False]
    assert results[3][0].pk == stored.pk
    assert len({message.pk for message, _ in results[:3]} | {stored.pk}) == 4
    assert sorted(ChatMessage.objects.filter(client_message_id="x").values_list("message", flat=True)) == [
        "first", "other chat", "other sender", "third",
    ]  # fmt: skip
    again = message_create_many(
        [text(bob, bc, "other chat", client_message_id="x"), text(carol, bc, "x", client_message_id="y")]
    )
    assert again[0] == (results[0][0], False) and again[1][1] is True
    assert len(emitted) == 5  # each stored message announced once; no retry announced


def test_one_senders_messages_keep_their_order_in_a_batch(scene, emitted):
    alice, bob, _carol, ab, _bc = scene
    bodies = [f"m{i}" for i in range(20)]
    results = message_create_many([text(alice if i % 3 else bob, ab, body) for i, body in enumerate(bodies)])
    ids = [message.pk for message, _ in results]
    assert ids == sorted(ids)
    assert [d["chatMessage"]["message"] for _, d, _ in emitted] == bodies
    assert list(ChatMessage.objects.order_by("id").values_list("message", flat=True)) == bodies


def test_a_failing_batch_stores_and_announces_nothing(scene, emitted):
    """A failure inside the transaction (here a receiver of "messages stored" that breaks, as a failing
    outbox write would) rolls the whole batch back: the caller answers every message with it."""
    alice, bob, _carol, ab, _bc = scene

    def broken_receiver(sender, **kwargs):
        raise RuntimeError("the outbox is gone")

    domain_events.messages_stored.connect(broken_receiver, dispatch_uid="test-broken")
    try:
        with pytest.raises(RuntimeError):
            message_create_many([text(alice, ab, "one"), text(bob, ab, "two")])
    finally:
        domain_events.messages_stored.disconnect(dispatch_uid="test-broken")
    assert ChatMessage.objects.count() == 0 and emitted == []
    assert ChatHeader.objects.get(pk=ab.pk).message_count == 0


def test_nothing_is_announced_before_the_batch_commits(scene, emitted):
    alice, bob, _carol, ab, _bc = scene
    seen_inside = []

    def receiver(sender, stored, **kwargs):
        seen_inside.append((connection.in_atomic_block, [m.message for m, _ in stored], list(emitted)))

    domain_events.messages_stored.connect(receiver, dispatch_uid="test-inside")
    try:
        message_create_many([text(alice, ab, "one"), text(bob, ab, "two")])
    finally:
        domain_events.messages_stored.disconnect(dispatch_uid="test-inside")
    assert seen_inside == [(True, ["one", "two"], [])]  # one event for the batch, inside it
    assert len(emitted) == 2


@pytest.mark.parametrize("size", [1, 10, 40])
def test_a_batch_costs_the_same_queries_whatever_its_size(scene, make_user, django_assert_max_num_queries, size):
    """One access check for the whole batch, one INSERT, one header UPDATE for every chat, the push
    outbox's devices in one query, and the change feed's counter bump and rows, inside one transaction:
    BEGIN and COMMIT once. (A batch of several chats locks their headers first on PostgreSQL: the test
    below.) On PostgreSQL the counter's bump, the INSERT, the changes and the header UPDATE are one
    statement, and the last before the commit."""
    alice, bob, _carol, ab, _bc = scene
    with django_assert_max_num_queries(10) as captured:  # + the outbox's savepoint pair
        message_create_many([text(alice if i % 2 else bob, ab, f"m{i}") for i in range(size)])
    statements = [q["sql"].split()[0].upper() for q in captured.captured_queries]
    if connection.vendor == "postgresql":
        writes = ["WITH"]
    else:
        # the change feed's counter: one bump for the batch; the messages; the batch's changes, in one
        # statement; the header
        writes = ["UPDATE", "INSERT", "INSERT", "UPDATE"]
    assert [s for s in statements if s not in {"BEGIN", "COMMIT", "SAVEPOINT", "RELEASE"}] == [
        "SELECT",  # who may send where
        "SELECT",  # the devices to push to: read before the change counter is taken, not while it is held
        *writes,
    ]
    assert statements.count("INSERT") == writes.count("INSERT")  # none hidden among the savepoints
    assert statements.count("UPDATE") == writes.count("UPDATE")
    assert ChatMessage.objects.count() == size


def test_the_group_commit_checks_its_senders_in_the_send_check(scene, django_assert_max_num_queries):
    """The socket's batch (chat.sockets.message_batch) runs no active-user query of its own: the
    send check answers who is deactivated, whose message is refused as a deactivated user's event is
    (`SessionEnded`: `unauthorized`, then the socket's session ends) while the others are stored."""
    from django.contrib.auth import get_user_model

    from chat.sockets.message_batch import message_writer
    from chat.sockets.server import SessionEnded

    alice, bob, _carol, ab, _bc = scene
    store = message_writer._store.func  # the sync function the batch runs in the ORM's thread
    with django_assert_max_num_queries(10) as captured:
        ((message, created),) = store((text(alice, ab, "while active"),))
    assert created and message.message == "while active"
    queries = [q["sql"] for q in captured.captured_queries if q["sql"].split()[0].upper() not in {"BEGIN", "SAVEPOINT"}]
    first = queries[0]
    assert "is_active" in first and "chat_chatmember" in first  # the send check is the first query...
    assert sum('FROM "chat_user"' in sql for sql in queries) == 1  # ...and the only one reading the users
    get_user_model().objects.filter(pk=bob.pk).update(is_active=False)
    refused, (stored, _) = store((text(bob, ab, "after"), text(alice, ab, "still")))
    assert isinstance(refused, SessionEnded) and refused.code == "unauthorized"
    assert stored.message == "still"
    assert list(ChatMessage.objects.order_by("id").values_list("message", flat=True)) == ["while active", "still"]


def test_a_batch_refused_before_the_database_writes_nothing(scene, emitted):
    alice, _bob, _carol, ab, _bc = scene
    results = message_create_many([text(alice, ab, "  "), text(alice, ab, "x", client_message_id="c" * 65)])
    assert [type(r) for r in results] == [Invalid, Invalid]
    assert ChatMessage.objects.count() == 0 and emitted == []


def test_a_batch_updates_its_chat_headers_in_one_statement_locked_in_chat_id_order(
    scene, make_user, django_assert_max_num_queries
):
    """One UPDATE for every chat of a batch. On PostgreSQL the header rows are locked first, in chat-id
    order, so two workers' batches that touch the same chats queue instead of deadlocking (PostgreSQL
    broke such deadlocks after a second by failing a batch); SQLite locks the whole database."""
    alice, bob, carol, ab, bc = scene
    dave = make_user("Dave")
    ad, _ = chat_direct_get_or_create(user=alice, other=dave)
    with django_assert_max_num_queries(20) as captured:
        results = message_create_many(
            [text(alice, ad, "1"), text(bob, bc, "2"), text(alice, ab, "3"), text(carol, bc, "4")]
        )
    statements = [q["sql"] for q in captured.captured_queries]
    updates = [sql for sql in statements if 'UPDATE "chat_chatheader"' in sql]  # on PostgreSQL, in the INSERT
    assert len(updates) == 1
    if connection.vendor == "postgresql":
        # In the INSERT's statement: a CTE that locks them in order, run whole before the UPDATE's first row.
        (update,) = updates
        locking = 'locked AS MATERIALIZED (SELECT h."id" FROM "chat_chatheader" h WHERE h."id" IN'
        assert locking in update and 'ORDER BY h."id" FOR UPDATE OF h' in update, update
        assert "(SELECT count(*) FROM locked) IS NOT NULL" in update, update
    one, _two, three, four = (message for message, _ in results)
    headers = {h.pk: h for h in ChatHeader.objects.filter(pk__in=[ab.pk, bc.pk, ad.pk])}
    assert (headers[ad.pk].message_count, headers[ad.pk].last_message_id) == (1, one.pk)
    assert (headers[ab.pk].message_count, headers[ab.pk].last_message_id) == (1, three.pk)
    assert (headers[bc.pk].message_count, headers[bc.pk].last_message_id) == (2, four.pk)
    assert headers[bc.pk].last_activity_time == four.creation_time


def test_a_batch_of_reads_answers_each_in_request_order(scene):
    from chat.services.messages import ReadRequest, chat_mark_read_many

    alice, bob, carol, ab, bc = scene
    message_create(sender=bob, chat_id=bc.pk, message_type=0, text="to carol")
    newest, _ = message_create(sender=bob, chat_id=ab.pk, message_type=0, text="to alice")
    results = chat_mark_read_many(
        [
            ReadRequest(user=carol, chat_id=bc.pk),
            ReadRequest(user=carol, chat_id=ab.pk),
            ReadRequest(user=alice, chat_id=ab.pk),
        ]
    )
    assert isinstance(results[0], int) and isinstance(results[1], Forbidden) and results[2] == newest.pk
