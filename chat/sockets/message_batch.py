"""Group commit for `createMessage` and `readMessage`: the writes that arrive while a batch is being
written form the next batch (shared/PERFORMANCE.md; PostgreSQL's `commit_delay`, Kafka's batching).

An idle server adds no delay: a message that finds no batch in flight starts one at once, alone. A busy
one pays one hop to the ORM's thread, one transaction and one commit per batch instead of per message
(`chat.services.messages.message_create_many`). Each message still gets its own answer: its stored
message, or the error that refused it alone; a batch whose transaction fails answers every message of
it with that failure (`server_error`), and nothing of it was stored or announced.

Each socket's createMessage events run one at a time (`ordered`), so a socket has at most one message
here; batches are written one after another, and within a batch in arrival order: one sender's
messages keep their order.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace

from asgiref.sync import sync_to_async

from chat.errors import AccountDisabled
from chat.events import bridge
from chat.services.messages import (
    NewMessage,
    ReadRequest,
    chat_mark_delivered_many,
    chat_mark_read_many,
    message_create_many,
)
from chat.sockets.auth import inactive_user_ids, session_ended
from chat.state.store import get_state

logger = logging.getLogger("chat.sockets")

# Writes in one transaction at most; more wait for the next batch.
MAX_BATCH = 256


class GroupCommit:
    """Batches of `store_many(requests) -> results` (a service over many requests, one result or
    ApplicationError each, in order), written one after another; `what` names them in the log.

    Each request's user must still be active (CONTRACT §2, as `call_as` checks for every event): one
    query for the batch before `store_many`, unless `store_many` checks it in a query of its own
    (`checks_active`), answering a deactivated user's request `AccountDisabled`. Either way that
    request is answered as any deactivated user's event is (`session_ended`)."""

    instances: list[GroupCommit] = []  # every one made, for a graceful stop's drain_all()

    def __init__(
        self,
        store_many: Callable[[list], list],
        *,
        user_of: Callable,
        what: str,
        prepare: Callable[[tuple], Awaitable[tuple]] | None = None,
        checks_active: bool = False,
    ) -> None:
        GroupCommit.instances.append(self)
        self._store = sync_to_async(_ending_sessions(store_many) if checks_active else _as_active(store_many, user_of))
        self._prepare = prepare  # on the loop, before the hop: what a batch needs from presence
        self._what = what
        self._waiting: list[tuple[object, asyncio.Future]] = []
        self._writer: asyncio.Task | None = None

    @property
    def writing(self) -> bool:
        return self._writer is not None

    async def submit(self, request):
        """Write `request` with whatever else arrives meanwhile; its result, or its error raised."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((request, future))
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(self._write_all())
        return await future

    async def drain(self) -> None:
        """Until every batch submitted so far is written (a graceful stop)."""
        while self._writer is not None:
            await asyncio.shield(self._writer)

    @classmethod
    async def drain_all(cls) -> None:
        """`drain()` every group commit of the process (chat_project/lifecycle.py, on SIGTERM)."""
        await asyncio.gather(*(writer.drain() for writer in cls.instances))

    async def _write_all(self) -> None:
        try:
            while self._waiting:
                # A request whose handler gave up before its batch began (answered `server_error` when
                # the database hung) is not written: its client was told it failed.
                waiting = [(request, future) for request, future in self._waiting if not future.done()]
                batch, self._waiting = waiting[:MAX_BATCH], waiting[MAX_BATCH:]
                if not batch:
                    break
                logger.debug("writing a batch of %d %s", len(batch), self._what)
                try:
                    requests = tuple(request for request, _ in batch)
                    if self._prepare is not None:
                        requests = await self._prepare(requests)
                except Exception as exc:  # noqa: BLE001 - every request of the batch hears of it
                    _answer(batch, [exc] * len(batch))
                    continue
                bridge.hold()  # what its commit hands to the loop (its announcements) goes out after its answers
                try:
                    try:
                        results = await self._store(requests)
                    except Exception as exc:  # noqa: BLE001 - every request of the batch hears of it
                        results = [exc] * len(batch)
                    _answer(batch, results)
                    await asyncio.sleep(0)  # the handlers run: each sends its answer
                finally:
                    bridge.release()
        finally:
            self._writer = None


def _answer(batch: list[tuple[object, asyncio.Future]], results) -> None:
    """Each request's handler gets its result, or its error raised."""
    for (_, future), result in zip(batch, results, strict=True):
        if future.done():  # its handler went away (the socket closed)
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)


def _as_active(store_many: Callable[[list], list], user_of: Callable) -> Callable[[tuple], list]:
    """`store_many` for the requests whose user is still active (as `call_as` checks for every event,
    one query for the batch); the others are answered as a deactivated user's event is."""

    def store(requests: tuple) -> list:
        inactive = inactive_user_ids({user_of(request).pk for request in requests})
        writable = [request for request in requests if user_of(request).pk not in inactive]
        stored = iter(store_many(writable) if writable else [])
        return [session_ended() if user_of(request).pk in inactive else next(stored) for request in requests]

    return store


def _ending_sessions(store_many: Callable[[list], list]) -> Callable[[tuple], list]:
    """`store_many`, which checks its users' activity itself, with its `AccountDisabled` answers
    turned into the end of their sockets' sessions."""

    def store(requests: tuple) -> list:
        return [session_ended() if isinstance(result, AccountDisabled) else result for result in store_many(requests)]

    return store


def _sender(request: NewMessage):
    return request.sender


async def _with_viewers(requests: tuple[NewMessage, ...]) -> tuple[NewMessage, ...]:
    """Each message with who views its chat (they get no push, CONTRACT §7): one presence call for
    the batch (one Redis round trip for all its chats, where each message asked on its own)."""
    chat_ids = {request.chat_id for request in requests if request.viewing_user_ids is None}
    if not chat_ids:
        return requests
    viewing = await get_state().presence.viewing_by_chat(chat_ids)
    return tuple(
        request
        if request.viewing_user_ids is not None
        else replace(request, viewing_user_ids=frozenset(viewing.get(request.chat_id, ())))
        for request in requests
    )


def _reader(request: ReadRequest):
    return request.user


# message_create_many checks its senders' activity in its send check: a round trip fewer per batch.
message_writer = GroupCommit(
    message_create_many, user_of=_sender, what="message(s)", prepare=_with_viewers, checks_active=True
)
read_writer = GroupCommit(chat_mark_read_many, user_of=_reader, what="read(s)")
delivered_writer = GroupCommit(chat_mark_delivered_many, user_of=_reader, what="delivery receipt(s)")
