"""The message services and the rate limiter, without sockets: transactions, events, races, limits."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from chat import dtos
from chat.errors import Forbidden, Invalid, RateLimited
from chat.events import chat_room
from chat.models import ChatHeader, ChatMember, ChatMessage
from chat.services import messages as message_services
from chat.services.chats import chat_direct_get_or_create
from chat.state import ratelimit

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    chat, _ = chat_direct_get_or_create(user=alice, other=bob)
    return alice, bob, chat


def create(sender, chat, text="hi", **kwargs):
    message, _ = message_services.message_create(sender=sender, chat_id=chat.pk, message_type=0, text=text, **kwargs)
    return message


def test_events_leave_only_after_commit(pair, emitted, django_capture_on_commit_callbacks):
    alice, _bob, chat = pair
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError):
        with transaction.atomic():
            create(alice, chat, "rolled back")
            assert emitted == []  # not yet: still inside the transaction
            raise RuntimeError
    assert emitted == [] and not ChatMessage.objects.exists()
    assert ChatHeader.objects.get(pk=chat.pk).last_message_id is None

    with django_capture_on_commit_callbacks(execute=True):
        message = create(alice, chat, "kept")
    assert emitted == [("message", {"chatMessage": dtos.message_dto(message)}, chat_room(chat.pk))]


def test_a_retry_is_told_apart_by_the_insert(pair):
    """A retry is not looked up first: the INSERT leaves it out on the unique constraint (which also
    settles two workers storing the same retry at once), then one query fetches the original."""
    alice, _bob, chat = pair
    original = create(alice, chat, "first", client_message_id="k")
    with CaptureQueriesContext(connection) as queries:
        again, created = message_services.message_create(
            sender=alice, chat_id=chat.pk, message_type=0, text="second", client_message_id="k"
        )
    assert (again.pk, created, again.message) == (original.pk, False, "first")
    statements = [q["sql"] for q in queries.captured_queries]
    inserts = [i for i, sql in enumerate(statements) if 'INSERT INTO "chat_chatmessage"' in sql]
    retries = 'client_message_id" IS NOT NULL'  # the retries' look-up (and the INSERT's conflict clause)
    lookups = [i for i, sql in enumerate(statements) if sql.startswith("SELECT") and retries in sql]
    assert len(inserts) == 1 and len(lookups) == 1 and inserts[0] < lookups[0], statements
    assert ChatMessage.objects.count() == 1
    # The transaction never failed (the conflict left the row out): later writes work.
    assert create(alice, chat, "later").pk > original.pk


@pytest.mark.django_db(transaction=True)  # the batch's transaction is its own: a savepoint would be one of ours
def test_a_retry_keeps_the_rest_of_its_batch(pair, emitted, django_capture_on_commit_callbacks):
    """A batch with a retry of a stored message: the others of the batch are stored and announced,
    the retry gets the original back and is not announced again, with no savepoint."""
    alice, bob, chat = pair
    original = create(alice, chat, "first", client_message_id="k")
    emitted.clear()
    batch = [
        message_services.NewMessage(sender=bob, chat_id=chat.pk, message_type=0, text="before", client_message_id="k"),
        message_services.NewMessage(sender=alice, chat_id=chat.pk, message_type=0, text="again", client_message_id="k"),
        message_services.NewMessage(sender=alice, chat_id=chat.pk, message_type=0, text="after"),
    ]
    with django_capture_on_commit_callbacks(execute=True), CaptureQueriesContext(connection) as queries:
        (before, before_new), (again, again_new), (after, after_new) = message_services.message_create_many(batch)
    assert (again.pk, again_new, again.message) == (original.pk, False, "first")
    assert before_new and after_new and before.pk < after.pk  # bob's "k" is his own key: stored
    assert list(ChatMessage.objects.order_by("pk").values_list("message", flat=True)) == ["first", "before", "after"]
    assert [payload["chatMessage"]["id"] for _, payload, _ in emitted] == [before.pk, after.pk]
    assert not [q["sql"] for q in queries.captured_queries if "SAVEPOINT" in q["sql"].upper()]
    header = ChatHeader.objects.get(pk=chat.pk)
    assert (header.last_message_id, header.message_count) == (after.pk, 3)  # the retry counted once


def test_a_retried_reply_gets_its_original_after_the_target_is_gone(pair):
    """A retry is answered, not refused: also a reply whose target was deleted since the original."""
    alice, _bob, chat = pair
    target = create(alice, chat, "target")
    reply = create(alice, chat, "reply", client_message_id="r", reply_to_id=target.pk)
    message_services.message_remove(user=alice, chat_id=chat.pk, message_ids=[target.pk])
    again, created = message_services.message_create(
        sender=alice, chat_id=chat.pk, message_type=0, text="reply", client_message_id="r", reply_to_id=target.pk
    )
    assert (again.pk, created) == (reply.pk, False)
    with pytest.raises(Invalid):  # not a retry: the deleted target is refused
        create(alice, chat, "new reply", client_message_id="s", reply_to_id=target.pk)


def test_a_message_left_out_without_an_original_fails_its_batch(pair, monkeypatch):
    """Were a row left out of the INSERT for any reason but a stored retry, the batch fails (its
    messages are answered server_error) rather than a message passing for stored."""
    alice, _bob, chat = pair
    monkeypatch.setattr(message_services, "_insert_rows", lambda messages, **_: None)  # every row left out
    for client_message_id in (None, "z"):  # no key to conflict on; a key no stored message has
        batch = [message_services.NewMessage(sender=alice, chat_id=chat.pk, message_type=0, text="x",
                                             client_message_id=client_message_id)]  # fmt: skip
        with pytest.raises(IntegrityError), transaction.atomic():
            message_services.message_create_many(batch)
    assert not ChatMessage.objects.exists()  # each batch rolled back


def test_a_batch_stores_every_column_as_sent(pair):
    """Each column of each message of a batch reads back as the batch wrote it (on PostgreSQL the rows
    travel as one JSON parameter): texts that JSON must escape, a reply, a key and none, and the
    creation time to the microsecond."""
    alice, _bob, chat = pair
    target = create(alice, chat, "target")
    texts = ['quote " backslash \\ slash / tab \t\nnew line', "emoji 😀 ü ß 中文 \u2028 \u200b", '{"json": [1]}']
    batch = [
        message_services.NewMessage(sender=alice, chat_id=chat.pk, message_type=0, text=text, caption=f"c{n} 'x'",
                                    client_message_id=None if n else "key é", reply_to_id=target.pk if n == 2 else None)
        for n, text in enumerate(texts)
    ]  # fmt: skip
    with transaction.atomic():
        results = message_services.message_create_many(batch)
    fields = [field.attname for field in ChatMessage._meta.concrete_fields]
    for (message, created), text in zip(results, texts, strict=True):
        stored = ChatMessage.objects.get(pk=message.pk)
        assert created and stored.message == text.strip()
        assert {f: getattr(stored, f) for f in fields} == {f: getattr(message, f) for f in fields}
    assert [m.client_message_id for m, _ in results] == ["key é", None, None]
    assert results[2][0].reply_to_id == target.pk and results[0][0].reply_to_id is None


def test_values_dto_matches_the_instance_dto(pair, make_user):
    alice, _bob, chat = pair
    message = create(alice, chat, "same shape", caption="c", client_message_id="x")
    message_services.message_update(user=alice, chat_id=chat.pk, message_id=message.pk, text="edited")
    message = ChatMessage.objects.select_related("sender").get(pk=message.pk)
    row = ChatMessage.objects.filter(pk=message.pk).values(*dtos.MESSAGE_DTO_VALUES).get()
    assert dtos.message_dto_from_values(row) == dtos.message_dto(message)


def test_header_pointer_only_moves_for_the_last_message(pair):
    alice, _bob, chat = pair
    first, second = create(alice, chat, "1"), create(alice, chat, "2")
    message_services.message_remove(user=alice, chat_id=chat.pk, message_ids=[first.pk])
    assert ChatHeader.objects.get(pk=chat.pk).last_message_id == second.pk
    message_services.message_remove(user=alice, chat_id=chat.pk, message_ids=[second.pk])
    assert ChatHeader.objects.get(pk=chat.pk).last_message_id is None


def test_remove_limits(pair):
    alice, _bob, chat = pair
    with pytest.raises(Invalid):
        message_services.message_remove(user=alice, chat_id=chat.pk, message_ids=[])
    with pytest.raises(Invalid):
        message_services.message_remove(user=alice, chat_id=chat.pk, message_ids=list(range(1, 102)))


def test_read_mark_never_moves_back(pair, emitted, django_capture_on_commit_callbacks):
    alice, bob, chat = pair
    first, second = create(alice, chat, "1"), create(alice, chat, "2")
    assert message_services.chat_mark_read(user=bob, chat_id=chat.pk) == second.pk
    message_services.message_remove(user=alice, chat_id=chat.pk, message_ids=[second.pk])
    assert message_services.chat_mark_read(user=bob, chat_id=chat.pk) == second.pk
    assert ChatMember.objects.get(chat=chat, user=bob).last_read_message_id == second.pk > first.pk
    with pytest.raises(Forbidden):
        message_services.chat_mark_read(user=bob, chat_id=chat.pk + 1000)
    with django_capture_on_commit_callbacks(execute=True):
        message_services.chat_mark_read(user=bob, chat_id=chat.pk)
    assert emitted == [
        ("messageHasBeenRead", chat.pk, chat_room(chat.pk)),
        (
            "messageRead",
            {"chatHeaderId": chat.pk, "userId": str(bob.pk), "lastReadMessageId": second.pk},
            chat_room(chat.pk),
        ),
    ]


def test_a_call_over_the_rate_limit_stores_nothing_but_a_retry_is_answered(pair, settings):
    """The transport counts the call before the service (chat.state, on the loop) and says when it was
    refused: then the service stores nothing, unless the call is a retry, which gets its message back."""
    settings.CHAT_RATE_LIMIT = "2/1h"
    alice, bob, chat = pair
    first = create(alice, chat, "1", client_message_id="k1")
    create(alice, chat, "2")
    with pytest.raises(RateLimited, match="at most 2 every 3600 seconds"):
        create(alice, chat, "3", over_rate_limit=True)
    assert create(alice, chat, "1 again", client_message_id="k1", over_rate_limit=True) == first
    create(bob, chat, "bob has his own budget")
    assert ChatMessage.objects.count() == 3


# --- the limiter -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("30/10s", ratelimit.Rate(30, 10.0)),
        ("5/s", ratelimit.Rate(5, 1.0)),
        ("100/2min", ratelimit.Rate(100, 120.0)),
        (" 7 / 1h ", ratelimit.Rate(7, 3600.0)),
        ("0", None),
        ("", None),
        (None, None),
        ("0/10s", None),
    ],
)
def test_parse_rate(value, expected):
    assert ratelimit.parse_rate(value) == expected


@pytest.mark.parametrize("value", ["30", "thirty/10s", "30/10x", "30/0s", "-1/10s", "3/0.5s"])
def test_parse_rate_refuses_nonsense(value):
    with pytest.raises(ImproperlyConfigured):
        ratelimit.parse_rate(value)


async def test_memory_limiter_slides(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(ratelimit.time, "monotonic", lambda: now[0])
    limiter, rate = ratelimit.MemoryLimiter(), ratelimit.Rate(limit=2, window=10)
    assert await limiter.hit("u", rate) and await limiter.hit("u", rate)
    assert not await limiter.hit("u", rate)  # full
    assert await limiter.hit("v", rate)  # per key
    now[0] += 5
    assert not await limiter.hit("u", rate)  # refused hits are not recorded...
    now[0] += 5.001
    assert await limiter.test("u", rate)  # (testing counts nothing)
    assert await limiter.hit("u", rate)  # ...so the window frees up on time
    assert await limiter.hit("u", rate) and not await limiter.hit("u", rate)
    assert not await limiter.test("u", rate)


async def test_memory_limiter_forgets_idle_users(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(ratelimit.time, "monotonic", lambda: now[0])
    monkeypatch.setattr(ratelimit.MemoryLimiter, "SWEEP_EVERY", 3)
    limiter, rate = ratelimit.MemoryLimiter(), ratelimit.Rate(limit=2, window=10)
    assert await limiter.hit("idle", rate) and await limiter.hit("busy", rate)
    now[0] += 11  # "idle" has sent nothing for a whole window
    assert await limiter.hit("busy", rate)  # the third hit sweeps
    assert set(limiter._hits) == {"busy"}
    # The sweep changes nobody's allowance: "busy" has one more hit in this window, then it is full.
    assert await limiter.hit("busy", rate)
    assert not await limiter.hit("busy", rate)


@pytest.mark.redis
async def test_redis_limiter_is_shared_by_every_worker(redis_url):
    rate = ratelimit.Rate(limit=3, window=60)
    worker_a = ratelimit.RedisLimiter(redis_url, "test:ratelimit")
    worker_b = ratelimit.RedisLimiter(redis_url, "test:ratelimit")
    hits = [await worker_a.hit("u", rate), await worker_b.hit("u", rate), await worker_a.hit("u", rate)]
    assert hits == [True, True, True]
    assert not await worker_b.hit("u", rate) and not await worker_a.hit("u", rate)
    assert not await worker_b.test("u", rate)
    assert await worker_b.hit("other", rate)
    await worker_a.reset()
    assert await worker_b.hit("u", rate)


@pytest.mark.redis
async def test_redis_limiter_keys_live_under_the_channel_prefix(redis_url):
    import redis.asyncio as aioredis

    limiter = ratelimit.RedisLimiter(redis_url, "test-channel:ratelimit")
    await limiter.hit("createMessage:u", ratelimit.Rate(limit=3, window=60))
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        keys = [key async for key in client.scan_iter(match="*")]
    finally:
        await client.aclose()
    assert keys and all(key.startswith("test-channel:ratelimit:") for key in keys)


async def test_redis_limiter_counts_in_this_process_while_redis_is_down():
    """Neither fail open nor closed: with Redis unreachable the budget is this worker's own (README,
    "Failure modes")."""
    limiter = ratelimit.RedisLimiter("redis://127.0.0.1:1/0", "test:ratelimit")
    assert await limiter.hit("u", ratelimit.Rate(limit=1, window=60))
    assert not await limiter.test("u", ratelimit.Rate(limit=1, window=60))
    assert not await limiter.hit("u", ratelimit.Rate(limit=1, window=60))
    assert await limiter.hit("someone else", ratelimit.Rate(limit=1, window=60))


@pytest.mark.redis
async def test_limiter_follows_redis_url(settings, redis_url):
    from chat.state.store import get_state

    settings.REDIS_URL = ""
    assert isinstance(get_state().limiter, ratelimit.MemoryLimiter)
    settings.REDIS_URL = redis_url
    assert isinstance(get_state().limiter, ratelimit.RedisLimiter)
    settings.CHAT_RATE_LIMIT = "1/1h"
    await ratelimit.check_rate(user_id="someone", action="createMessage")
    with pytest.raises(RateLimited):
        await ratelimit.check_rate(user_id="someone", action="createMessage")
    settings.REDIS_URL = ""
    assert isinstance(get_state().limiter, ratelimit.MemoryLimiter)


def test_a_text_message_costs_three_queries(pair, monkeypatch, django_assert_max_num_queries):
    """The hottest write: access and block check, insert, header, and the change feed's counter and
    row; nothing per member or per device (pushes are the notifications app's, stubbed here)."""
    from notifications import services as notification_services

    monkeypatch.setattr(notification_services, "messages_created", lambda **kwargs: None)
    monkeypatch.setattr(notification_services, "message_devices", lambda **kwargs: {})
    alice, _bob, chat = pair
    with django_assert_max_num_queries(7) as captured:  # + the savepoint pair of atomic() in a test
        create(alice, chat, "cheap")
    statements = [q["sql"].split()[0].upper() for q in captured.captured_queries]
    expected = ["SELECT", "UPDATE", "INSERT", "INSERT", "UPDATE"]  # access, counter, message, change, header
    if connection.vendor == "postgresql":
        # The INSERT carries the counter's bump before it, its change row and the header's UPDATE after it.
        expected = ["SELECT", "WITH"]
        (insert,) = [q["sql"] for q in captured.captured_queries if q["sql"].startswith("WITH")]
        assert 'INSERT INTO "chat_changecounter"' in insert, insert
        assert 'INSERT INTO "chat_change"' in insert and 'UPDATE "chat_chatheader"' in insert
    assert [s for s in statements if s not in {"SAVEPOINT", "RELEASE"}] == expected


def test_send_check_blocks_only_one_to_one_chats(pair, make_user):
    from chat.selectors.messages import send_access
    from chat.services.friendships import friendship_block
    from chat.services.groups import group_create

    def blocked(pairs):
        return send_access(pairs=pairs).blocked

    alice, bob, chat = pair
    assert blocked({(chat.pk, alice.pk)}) == {(chat.pk, alice.pk): False}
    friendship_block(user=bob, other=alice)
    assert blocked({(chat.pk, alice.pk), (chat.pk, bob.pk)}) == {(chat.pk, alice.pk): True, (chat.pk, bob.pk): True}
    group = group_create(creator=alice, name="G", member_ids=[])
    assert blocked({(group.pk, alice.pk)}) == {(group.pk, alice.pk): False}
    # No membership, no answer (`forbidden`, whether the chat exists or not); nor for pairs not asked.
    eve = make_user("Eve")
    assert blocked({(group.pk, bob.pk), (chat.pk, eve.pk), (10**9, alice.pk)}) == {}
    assert send_access(pairs=set()) == ({}, set())


def test_send_check_tells_who_is_deactivated(pair, make_user):
    """The send check also answers which senders are deactivated or gone, members or not: the group
    commit's active check rides on it instead of taking a query of its own."""
    import uuid

    from chat.selectors.messages import send_access

    alice, bob, chat = pair
    eve, ghost = make_user("Eve"), uuid.uuid4()
    pairs = {(chat.pk, alice.pk), (chat.pk, bob.pk), (chat.pk, eve.pk), (chat.pk, ghost)}
    assert send_access(pairs=pairs).inactive == {ghost}
    bob.is_active = eve.is_active = False
    bob.save(update_fields=["is_active"])
    eve.save(update_fields=["is_active"])
    access = send_access(pairs=pairs)
    assert access.inactive == {bob.pk, eve.pk, ghost}
    assert access.blocked == {(chat.pk, alice.pk): False, (chat.pk, bob.pk): False}  # Eve: no member


def test_a_deactivated_sender_is_refused_in_its_batch(pair):
    """In one batch: a deactivated sender's messages (a valid one, an invalid one) are refused
    `AccountDisabled`, and the active sender's message is stored."""
    from chat.errors import AccountDisabled

    alice, bob, chat = pair
    bob.is_active = False
    bob.save(update_fields=["is_active"])
    batch = [
        message_services.NewMessage(sender=bob, chat_id=chat.pk, message_type=0, text="from bob"),
        message_services.NewMessage(sender=alice, chat_id=chat.pk, message_type=0, text="from alice"),
        message_services.NewMessage(sender=bob, chat_id=chat.pk, message_type=9, text="invalid too"),
    ]
    with transaction.atomic():
        first, second, third = message_services.message_create_many(batch)
    assert isinstance(first, AccountDisabled) and isinstance(third, AccountDisabled)
    assert second[1] and list(ChatMessage.objects.values_list("message", flat=True)) == ["from alice"]


def test_a_read_asks_about_blocks_only_when_the_reader_has_one(
    pair, make_user, monkeypatch, django_assert_max_num_queries
):
    """The read state and "does the reader have any block" are one query; only a reader with a block
    asks which members the read must not reach (CONTRACT §11). Read-clear pushes are stubbed here."""
    from chat.services.friendships import friendship_block
    from notifications import services as notification_services

    monkeypatch.setattr(notification_services, "chat_read", lambda **kwargs: None)
    alice, bob, chat = pair
    create(alice, chat, "x")

    def statements(captured):
        return [
            q["sql"].split()[0].upper()
            for q in captured.captured_queries
            if not q["sql"].startswith(("SAVE", "RELEASE"))
        ]

    # SELECT the state; UPDATE the change feed's counter, the member's marks; INSERT its changes.
    with django_assert_max_num_queries(6) as captured:  # + the savepoint pair of atomic() in a test
        message_services.chat_mark_read(user=bob, chat_id=chat.pk)
    assert statements(captured) == ["SELECT", "UPDATE", "UPDATE", "INSERT"]
    friendship_block(user=bob, other=make_user("Eve"))
    create(alice, chat, "y")
    with django_assert_max_num_queries(7) as captured:
        message_services.chat_mark_read(user=bob, chat_id=chat.pk)
    assert statements(captured) == ["SELECT", "SELECT", "UPDATE", "UPDATE", "INSERT"]
