"""The push delivery loop: claims due outbox rows, sends them through the backend, records outcomes.

One step (`deliver_due`) is plain synchronous ORM code in short transactions, with the backend call
in between and outside any transaction:

1. rows left `sending` by a process that died (their lease, `PUSH_CLAIM_TIMEOUT`, expired) go back
   to `pending`, so a push waiting when a process stops is sent after it restarts;
2. claim up to `PUSH_BATCH_SIZE` due rows (`pending`, `next_attempt_at <= now`): on PostgreSQL with
   `SELECT ... FOR UPDATE SKIP LOCKED`, everywhere with a conditional `UPDATE ... WHERE state =
   'pending'` tagged with a claim id, so that two workers never claim the same row;
3. drop rows that must not be sent any more (token deleted or now another user's, message
   deleted, recipient removed from the chat), count badges, call `backend.send_messages`;
4. record: sent; token invalid -> delete the device, row dropped; transient -> back to pending with
   exponential backoff (at least the provider's Retry-After), failed once `PUSH_MAX_ATTEMPTS` is
   spent, the last error kept; credentials refused -> logged at ERROR, tokens kept, retried.

`DeliveryLoop` runs steps as an asyncio task on the socket server's loop (started by
`notifications.in_process`), each step in its own single thread, never in the ORM thread that
socket handlers share through `sync_to_async`: a slow provider cannot delay an ack or a broadcast.
`manage.py run_push_worker` runs the same steps as a process of its own.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import F
from django.utils import timezone

from chat.models import ChatMember
from chat.selectors.chats import unread_count_subquery
from chat.services.changes import changes_prune
from notifications.backends.base import BasePushBackend, Outcome, OutgoingPush, PushResult, get_backend
from notifications.models import Device, Push, PushKind, PushState

logger = logging.getLogger("notifications.worker")


@dataclass
class StepReport:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    dropped: int = 0
    recovered: int = 0
    next_due: datetime | None = None
    outcomes: dict[int, tuple[str, str]] = field(default_factory=dict)  # push id -> (state, error)


def backoff_seconds(attempts: int, retry_after: float | None = None) -> float:
    """Delay before attempt `attempts + 1`: base * 2^(attempts-1), capped, and never below Retry-After."""
    delay = min(settings.PUSH_RETRY_BASE_SECONDS * 2 ** max(attempts - 1, 0), settings.PUSH_RETRY_MAX_SECONDS)
    if retry_after:
        # Honour the provider; an absurd value is capped at a day so the row is not parked forever.
        delay = max(delay, min(retry_after, 86400.0))
    return float(delay)


def recover_stale(*, now: datetime) -> int:
    """Rows whose worker died while sending: back to pending (or failed when their attempts are spent)."""
    lease_start = now - timedelta(seconds=settings.PUSH_CLAIM_TIMEOUT)
    stale = Push.objects.filter(state=PushState.SENDING, claimed_at__lt=lease_start)
    if not stale.exists():
        return 0
    with transaction.atomic():
        spent = stale.filter(attempts__gte=settings.PUSH_MAX_ATTEMPTS).update(
            state=PushState.FAILED, claim_id="", last_error="the worker stopped while sending; attempts spent"
        )
        back = stale.update(state=PushState.PENDING, next_attempt_at=now, claim_id="", claimed_at=None)
    if spent or back:
        logger.warning("recovered %d push(es) left sending by a stopped worker (%d failed)", spent + back, spent)
    return spent + back


def claim_due(*, now: datetime, limit: int, only_ids=None) -> list[Push]:
    """Take up to `limit` due rows for this worker alone (see the module docstring)."""
    due = Push.objects.filter(state=PushState.PENDING, next_attempt_at__lte=now)
    if only_ids is not None:
        due = due.filter(id__in=list(only_ids))
    # A read first, outside a transaction: an idle poll never takes SQLite's write lock.
    if not due.exists():
        return []
    claim_id = uuid.uuid4().hex
    with transaction.atomic():
        candidates = due.order_by("next_attempt_at", "id")
        if connection.features.has_select_for_update_skip_locked:
            candidates = candidates.select_for_update(skip_locked=True)
        ids = list(candidates.values_list("id", flat=True)[:limit])
        if not ids:
            return []
        Push.objects.filter(id__in=ids, state=PushState.PENDING).update(
            state=PushState.SENDING, claimed_at=now, claim_id=claim_id, attempts=F("attempts") + 1
        )
    return list(
        Push.objects.filter(claim_id=claim_id, state=PushState.SENDING)
        .select_related("device", "message")
        .order_by("id")
    )


def _badges(user_ids: set) -> dict[str, int]:
    """Each user's unread total over all their chats (CONTRACT §5 unreadCount, summed)."""
    totals: dict[str, int] = defaultdict(int)
    rows = ChatMember.objects.filter(user_id__in=user_ids).annotate(unread=unread_count_subquery())
    for user_id, unread in rows.values_list("user_id", "unread"):
        totals[str(user_id)] += unread or 0
    return totals


def _why_not_send(push: Push, memberships: set[tuple[int, str]]) -> str | None:
    device = push.device
    if device is None:
        return "the device token was removed"
    if device.user_id != push.user_id:
        return "the device token now belongs to another user"
    if push.kind == PushKind.MESSAGE:
        if push.message is None or push.message.is_deleted:
            return "the message was deleted"
        if (push.chat_id, str(push.user_id)) not in memberships:
            return "the user is no longer a member of the chat"
    return None


def _prepare(claimed: list[Push]) -> tuple[list[tuple[Push, OutgoingPush]], list[tuple[Push, str]]]:
    chat_ids = {p.chat_id for p in claimed if p.kind == PushKind.MESSAGE}
    user_ids = {p.user_id for p in claimed}
    memberships = {
        (chat_id, str(user_id))
        for chat_id, user_id in ChatMember.objects.filter(chat_id__in=chat_ids, user_id__in=user_ids).values_list(
            "chat_id", "user_id"
        )
    }
    ready, dropped = [], []
    for push in claimed:
        reason = _why_not_send(push, memberships)
        if reason:
            dropped.append((push, reason))
        else:
            ready.append(push)
    badges = _badges({p.user_id for p in ready if p.kind != PushKind.TEST}) if ready else {}
    outgoing = []
    for push in ready:
        push.badge = badges.get(str(push.user_id)) if push.kind != PushKind.TEST else None
        outgoing.append(
            (
                push,
                OutgoingPush(
                    push_id=push.pk,
                    token=push.device.token,
                    platform=push.platform,
                    user_id=str(push.user_id),
                    kind=push.kind,
                    title=push.title,
                    body=push.body,
                    data={str(k): str(v) for k, v in (push.data or {}).items()},
                    badge=push.badge,
                    chat_id=push.chat_id,
                ),
            )
        )
    return outgoing, dropped


def _send(backend: BasePushBackend, outgoing: list[OutgoingPush]) -> list[PushResult]:
    try:
        results = list(backend.send_messages(outgoing))
    except Exception as exc:
        logger.exception("push backend %s failed", type(backend).__module__)
        return [PushResult(Outcome.RETRY, f"{type(exc).__name__}: {exc}")] * len(outgoing)
    if len(results) < len(outgoing):
        results += [PushResult(Outcome.RETRY, "the backend returned no result")] * (len(outgoing) - len(results))
    return results


def _record(
    claimed: list[Push],
    sent: list[tuple[Push, OutgoingPush, PushResult]],
    dropped: list[tuple[Push, str]],
    *,
    now: datetime,
    report: StepReport,
) -> None:
    changed: list[Push] = []
    bad_tokens: set[str] = set()
    auth_errors: list[str] = []
    for push, reason in dropped:
        push.state, push.last_error = PushState.DROPPED, reason
        changed.append(push)
    for push, out, result in sent:
        if result.outcome is Outcome.SENT:
            push.state, push.sent_time, push.last_error = PushState.SENT, now, ""
            push.provider_message_id = (result.message_id or "")[:300]
        elif result.outcome is Outcome.INVALID_TOKEN:
            push.state, push.last_error = PushState.DROPPED, result.error
            bad_tokens.add(out.token)
        elif result.outcome is Outcome.FATAL:
            push.state, push.last_error = PushState.FAILED, result.error
        else:
            if result.outcome is Outcome.AUTH:
                auth_errors.append(result.error)
            push.last_error = result.error
            if push.attempts >= settings.PUSH_MAX_ATTEMPTS:
                push.state = PushState.FAILED
            else:
                push.state = PushState.PENDING
                push.next_attempt_at = now + timedelta(seconds=backoff_seconds(push.attempts, result.retry_after))
        changed.append(push)
    claim_id = claimed[0].claim_id
    with transaction.atomic():
        # Only rows still ours: an admin may have retried one, or a lease expired meanwhile.
        mine = Push.objects.filter(id__in=[p.pk for p in claimed], claim_id=claim_id, state=PushState.SENDING)
        if connection.features.has_select_for_update:
            mine = mine.select_for_update()
        ours = set(mine.values_list("id", flat=True))
        rows = [p for p in changed if p.pk in ours]
        for push in rows:
            push.claim_id = ""
        Push.objects.bulk_update(
            rows,
            ["state", "last_error", "sent_time", "next_attempt_at", "claim_id", "provider_message_id", "badge"],
            batch_size=500,
        )
        if bad_tokens:
            Device.objects.filter(token__in=bad_tokens).delete()
    if bad_tokens:
        logger.info("deleted %d device token(s) that FCM no longer accepts", len(bad_tokens))
    if auth_errors:
        logger.error(
            "push credentials refused for %d push(es); tokens kept, will retry: %s", len(auth_errors), auth_errors[0]
        )
    for p in rows:
        report.outcomes[p.pk] = (p.state, p.last_error)
        if p.state == PushState.SENT:
            report.sent += 1
        elif p.state == PushState.PENDING:
            report.retried += 1
        elif p.state == PushState.FAILED:
            report.failed += 1
        else:
            report.dropped += 1


def next_due_at() -> datetime | None:
    return (
        Push.objects.filter(state=PushState.PENDING)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )


def deliver_due(
    *, now: datetime | None = None, backend: BasePushBackend | None = None, limit: int | None = None, only_ids=None
) -> StepReport:
    """One delivery step (see the module docstring). `now` is a parameter so tests control the clock."""
    now = now or timezone.now()
    report = StepReport()
    report.recovered = recover_stale(now=now)
    claimed = claim_due(now=now, limit=limit or settings.PUSH_BATCH_SIZE, only_ids=only_ids)
    report.claimed = len(claimed)
    if claimed:
        outgoing, dropped = _prepare(claimed)
        results = _send(backend or get_backend(), [o for _, o in outgoing]) if outgoing else []
        sent = [(push, out, result) for (push, out), result in zip(outgoing, results, strict=True)]
        _record(claimed, sent, dropped, now=now, report=report)
    report.next_due = next_due_at()
    return report


def idle_seconds(report: StepReport | None, *, poll: float, now: datetime) -> float:
    """How long a delivery loop may wait after a step: until its next poll, or sooner when a retry falls due."""
    if report is None or report.next_due is None:
        return poll
    return min(poll, max(0.0, (report.next_due - now).total_seconds()))


PRUNE_EVERY = 3600.0  # seconds between two prunes of the outbox by one loop


def prune(*, now: datetime | None = None) -> int:
    """Forget finished pushes older than `PUSH_RETENTION_DAYS` (the outbox is not an archive)."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.PUSH_RETENTION_DAYS)
    deleted, _ = Push.objects.filter(
        state__in=[PushState.SENT, PushState.DROPPED, PushState.FAILED], creation_time__lt=cutoff
    ).delete()
    return deleted


def _connection_hygiene() -> None:
    # As Django does around each request: drop a broken or aged connection (CONN_MAX_AGE). Never
    # inside a caller's transaction (a test's, or a command called from code).
    if not connection.in_atomic_block:
        close_old_connections()


def _with_connection_hygiene(fn, /, **kwargs):
    """`fn(**kwargs)` with Django's per-request connection hygiene, for threads that outlive one call."""
    _connection_hygiene()
    try:
        return fn(**kwargs)
    finally:
        _connection_hygiene()


def run_step_in_thread(**kwargs) -> StepReport:
    """A step (`deliver_due`) in a thread that outlives it."""
    return _with_connection_hygiene(deliver_due, **kwargs)


# --- the in-process loop --------------------------------------------------------------------------

_running: set[DeliveryLoop] = set()


def wake() -> None:
    """Tell every delivery loop of this process that rows are due (called after commits)."""
    for loop in list(_running):
        loop.wake()


class DeliveryLoop:
    """Runs `deliver_due` on an asyncio loop: at start (rows left from before a restart), whenever
    woken, when the earliest retry is due, and every `PUSH_POLL_SECONDS` (rows of other processes,
    expired leases)."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self._task: asyncio.Task | None = None
        self._stopping = False
        self._last_prune = 0.0
        # One thread of its own: a slow provider blocks this thread only.
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="push-delivery")

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()
        self._stopping = False
        self._task = self._loop.create_task(self._run(), name="push-delivery")
        _running.add(self)

    def wake(self) -> None:
        loop, event = self._loop, self._event
        if loop is None or event is None or loop.is_closed():
            return
        try:
            if asyncio.get_running_loop() is loop:
                event.set()
                return
        except RuntimeError:
            pass
        try:
            loop.call_soon_threadsafe(event.set)
        except RuntimeError:  # the loop closed meanwhile
            pass

    async def _step(self) -> StepReport | None:
        try:
            return await self._loop.run_in_executor(self._executor, run_step_in_thread)
        except Exception:
            logger.exception("push delivery step failed")
            return None

    async def _maybe_prune(self) -> None:
        now = self._loop.time()
        if now - self._last_prune < PRUNE_EVERY:
            return
        self._last_prune = now
        try:
            await self._loop.run_in_executor(self._executor, _with_connection_hygiene, prune)
        except Exception:
            logger.exception("push outbox pruning failed")
        # The change feed keeps CHAT_SYNC_RETENTION_DAYS (CONTRACT §9); the same hourly chore, so that a
        # server with no cron still prunes (`manage.py prune_changes` does it by hand).
        try:
            await self._loop.run_in_executor(self._executor, _with_connection_hygiene, changes_prune)
        except Exception:
            logger.exception("change feed pruning failed")

    async def _run(self) -> None:
        poll = float(settings.PUSH_POLL_SECONDS)
        while not self._stopping:
            self._event.clear()
            report = await self._step()
            if self._stopping:
                break
            if report is not None and report.claimed >= settings.PUSH_BATCH_SIZE:
                continue  # more may be due right now
            await self._maybe_prune()
            delay = idle_seconds(report, poll=poll, now=timezone.now())
            try:
                await asyncio.wait_for(self._event.wait(), timeout=delay)
            except TimeoutError:
                pass

    async def stop(self, timeout: float = 10.0) -> None:
        """Finish the step in flight (up to `timeout`); rows not finished are recovered by their lease."""
        self._stopping = True
        _running.discard(self)
        if self._event is not None:
            self._event.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=timeout)
            except TimeoutError:
                logger.warning("push delivery still sending at shutdown; its rows will be retried after the lease")
                self._task.cancel()
            except Exception:
                logger.exception("push delivery loop ended with an error")
        self._executor.shutdown(wait=False)
