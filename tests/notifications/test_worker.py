"""The outbox and its delivery loop: backoff, Retry-After, bounded attempts, one claim per row,
and pushes left waiting at shutdown sent after a restart. The clock is a parameter (`now`)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from django.utils import timezone

from chat.services.chats import chat_direct_get_or_create
from notifications.backends.base import Outcome, PushResult
from notifications.models import Push, PushState
from notifications.worker import DeliveryLoop, backoff_seconds, claim_due, deliver_due
from tests.conftest import run_sync
from tests.notifications.backends_for_tests import Script
from tests.notifications.conftest import add_device, queue_message

SCRIPTED = "tests.notifications.backends_for_tests.ScriptedBackend"
NOW = timezone.now().replace(microsecond=0)


@pytest.fixture
def scripted(settings):
    settings.PUSH_BACKEND = SCRIPTED
    settings.PUSH_RETRY_BASE_SECONDS = 5
    settings.PUSH_RETRY_MAX_SECONDS = 3600
    settings.PUSH_MAX_ATTEMPTS = 4
    Script.answers, Script.calls = [], []
    yield Script
    Script.answers, Script.calls = [], []


def test_backoff_doubles_from_the_base_up_to_the_cap(settings):
    settings.PUSH_RETRY_BASE_SECONDS, settings.PUSH_RETRY_MAX_SECONDS = 5, 60
    assert [backoff_seconds(n) for n in range(1, 7)] == [5, 10, 20, 40, 60, 60]
    assert backoff_seconds(1, retry_after=30) == 30  # Retry-After wins when longer
    assert backoff_seconds(4, retry_after=3) == 40  # never sooner than the backoff
    assert backoff_seconds(1, retry_after=10**9) == 86400  # an absurd Retry-After is capped


@pytest.mark.django_db
def test_retry_timing_then_failed_after_max_attempts_with_the_error_kept(scripted, make_user):
    (push,) = queue_message(make_user, due=NOW)
    outage = PushResult(Outcome.RETRY, "UnavailableError: FCM is down")
    scripted.answers = [outage] * 4
    now = NOW
    for attempt, wait in [(1, 5), (2, 10), (3, 20)]:
        report = deliver_due(now=now)
        assert report.claimed == 1 and report.retried == 1
        push.refresh_from_db()
        assert (push.state, push.attempts) == (PushState.PENDING, attempt)
        assert push.next_attempt_at == now + timedelta(seconds=wait)
        assert deliver_due(now=push.next_attempt_at - timedelta(seconds=1)).claimed == 0  # not due yet
        assert report.next_due == push.next_attempt_at
        now = push.next_attempt_at
    report = deliver_due(now=now)  # the fourth and last attempt
    push.refresh_from_db()
    assert (push.state, push.attempts, report.failed) == (PushState.FAILED, 4, 1)
    assert push.last_error == "UnavailableError: FCM is down"
    assert deliver_due(now=now + timedelta(days=1)).claimed == 0
    assert len(scripted.calls) == 4


@pytest.mark.django_db
def test_retry_after_is_honoured(scripted, make_user):
    (push,) = queue_message(make_user, due=NOW)
    scripted.answers = [PushResult(Outcome.RETRY, "QuotaExceededError", retry_after=300)]
    deliver_due(now=NOW)
    push.refresh_from_db()
    assert push.next_attempt_at == NOW + timedelta(seconds=300)
    assert deliver_due(now=NOW + timedelta(seconds=299)).claimed == 0
    assert deliver_due(now=NOW + timedelta(seconds=300)).sent == 1


@pytest.mark.django_db
def test_a_backend_that_raises_is_retried_not_fatal(settings, make_user):
    settings.PUSH_BACKEND = "notifications.backends.base.BasePushBackend"  # send_messages raises
    (push,) = queue_message(make_user, due=NOW)
    deliver_due(now=NOW)
    push.refresh_from_db()
    assert push.state == PushState.PENDING and "NotImplementedError" in push.last_error


@pytest.mark.django_db
def test_each_row_is_claimed_once(scripted, make_user):
    pushes = queue_message(make_user, due=NOW, devices=3)
    first = claim_due(now=NOW, limit=2)
    second = claim_due(now=NOW, limit=10)
    third = claim_due(now=NOW, limit=10)
    assert len(first) == 2 and len(second) == 1 and third == []
    assert {p.pk for p in first} | {p.pk for p in second} == {p.pk for p in pushes}
    assert {p.claim_id for p in first}.isdisjoint({p.claim_id for p in second})
    assert all(p.state == PushState.SENDING and p.attempts == 1 for p in first + second)


@pytest.mark.django_db
def test_a_row_reclaimed_elsewhere_is_not_overwritten(scripted, make_user):
    """A worker whose lease ran out does not record over the worker that took the row after it."""
    (push,) = queue_message(make_user, due=NOW)
    (stale,) = claim_due(now=NOW, limit=10)
    Push.objects.filter(pk=push.pk).update(claim_id="someone-else")  # what the other worker's claim wrote
    from notifications.worker import StepReport, _record

    report = StepReport()
    _record([stale], [], [(stale, "test")], now=NOW, report=report)
    push.refresh_from_db()
    assert push.state == PushState.SENDING and report.outcomes == {}


@pytest.mark.django_db
def test_rows_left_by_a_stopped_worker_are_sent_after_restart(scripted, make_user, settings):
    settings.PUSH_CLAIM_TIMEOUT = 300
    waiting, crashed, in_flight = queue_message(make_user, due=NOW, devices=3)
    # The process stopped: one row never claimed, one claimed long ago, one claimed a moment ago
    # (by a worker that is still alive and sending it). Written directly: those are other processes' claims.
    Push.objects.filter(pk=crashed.pk).update(state=PushState.SENDING, claimed_at=NOW - timedelta(minutes=10))
    Push.objects.filter(pk=in_flight.pk).update(state=PushState.SENDING, claimed_at=NOW - timedelta(seconds=10))

    report = deliver_due(now=NOW)

    assert report.recovered == 1 and report.sent == 2
    assert sorted(p.push_id for call in scripted.calls for p in call) == sorted([waiting.pk, crashed.pk])
    states = dict(Push.objects.values_list("pk", "state"))
    assert states == {waiting.pk: "sent", crashed.pk: "sent", in_flight.pk: "sending"}


@pytest.mark.django_db
def test_dropped_when_no_longer_deliverable(scripted, make_user):
    from chat.services.messages import message_remove
    from notifications.devices import device_delete

    first, second, third = queue_message(make_user, due=NOW, devices=3)
    device_delete(user=first.user, token=first.token)
    message = second.message
    message_remove(user=message.sender, chat_id=message.chat_id, message_ids=[message.pk])
    deliver_due(now=NOW)
    rows = {p.pk: (p.state, p.last_error) for p in Push.objects.all()}
    assert rows[first.pk] == ("dropped", "the device token was removed")
    assert rows[second.pk] == ("dropped", "the message was deleted")
    assert rows[third.pk] == ("dropped", "the message was deleted")
    assert scripted.calls == []


@pytest.mark.django_db
def test_a_token_that_moved_to_another_user_gets_nothing_meant_for_the_old_owner(scripted, make_user):
    from notifications.devices import device_register

    (push,) = queue_message(make_user, due=NOW)
    mallory = make_user("Mallory")
    device_register(user=mallory, token=push.token, platform="android")  # the phone changed hands
    deliver_due(now=NOW)
    push.refresh_from_db()
    assert push.state == PushState.DROPPED and "another user" in push.last_error
    assert scripted.calls == []


@pytest.mark.django_db(transaction=True)
async def test_pushes_waiting_at_shutdown_are_sent_after_restart(
    clients, make_user, outbox, settings, server_delivery_stopped
):
    """The server's delivery loop stops (shutdown) with pushes queued and one mid-send; once started
    again (what a restarted server does) it sends each of them exactly once, without being woken."""
    settings.PUSH_CLAIM_TIMEOUT = 60
    alice, bob = make_user("Alice"), make_user("Bob")
    add_device(bob)
    add_device(bob, platform="ios")
    chat, _ = run_sync(chat_direct_get_or_create, user=alice, other=bob)
    sender = await clients(alice)
    for text in ("one", "two"):
        await sender.call("createMessage", {"chatHeaderId": chat.pk, "message": text, "messageType": 0})
    pushes = run_sync(lambda: list(Push.objects.order_by("id")))
    assert len(pushes) == 4
    # The stopped process was sending this one when it died.
    run_sync(
        lambda: Push.objects.filter(pk=pushes[0].pk).update(
            state=PushState.SENDING, claimed_at=timezone.now() - timedelta(minutes=5)
        )
    )
    await asyncio.sleep(0.3)  # a stopped loop does nothing, and no event can say so: give it the time
    assert outbox == []

    await server_delivery_stopped()  # restart
    for _ in range(250):
        if run_sync(lambda: Push.objects.filter(state=PushState.SENT).count()) == 4:
            break
        await asyncio.sleep(0.02)
    assert sorted(p.push_id for p in outbox) == [p.pk for p in pushes]  # each exactly once


@pytest.mark.django_db(transaction=True)
async def test_stopping_a_loop_finishes_the_send_in_flight(settings, make_user, server_delivery_stopped):
    from tests.notifications import backends_for_tests as b

    settings.PUSH_BACKEND = "tests.notifications.backends_for_tests.SlowBackend"
    b.slow_started.clear()
    b.SLOW_SECONDS, old = 0.3, b.SLOW_SECONDS
    try:
        (push,) = queue_message(make_user, due=NOW)
        loop = DeliveryLoop()
        await loop.start()
        await asyncio.get_running_loop().run_in_executor(None, b.slow_started.wait, 5)
        await loop.stop()
    finally:
        b.SLOW_SECONDS = old
    assert not loop.running
    assert run_sync(lambda: Push.objects.get(pk=push.pk).state) == PushState.SENT
