"""Group commit for `createMessage`: the messages that arrive while a batch is being written form the
next batch (shared/PERFORMANCE.md; PostgreSQL's `commit_delay`, Kafka's batching).

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

from asgiref.sync import sync_to_async

from chat.models import ChatMessage
from chat.services.messages import NewMessage, message_create_many
from chat.sockets.auth import inactive_user_ids, session_ended

logger = logging.getLogger("chat.sockets")

# Messages written in one transaction at most; more wait for the next batch.
MAX_BATCH = 256


class GroupCommit:
    def __init__(self) -> None:
        self._waiting: list[tuple[NewMessage, asyncio.Future]] = []
        self._writing = False

    async def submit(self, request: NewMessage) -> tuple[ChatMessage, bool]:
        """Store `request` with whatever else arrives meanwhile; its (message, created), or its error."""
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((request, future))
        if not self._writing:
            self._writing = True
            asyncio.get_running_loop().create_task(self._write_all())
        return await future

    async def _write_all(self) -> None:
        try:
            while self._waiting:
                batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
                logger.debug("writing a batch of %d message(s)", len(batch))
                try:
                    results = await _store(tuple(request for request, _ in batch))
                except Exception as exc:  # noqa: BLE001 - every message of the batch hears of it
                    results = [exc] * len(batch)
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():  # its handler went away (the socket closed)
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:
            self._writing = False


@sync_to_async
def _store(requests: tuple[NewMessage, ...]) -> list:
    """One hop to the ORM's thread for the batch: the senders still active (as `call_as` checks for
    every event, one query for all of them), then their messages in one transaction."""
    inactive = inactive_user_ids({request.sender.pk for request in requests})
    writable = [request for request in requests if request.sender.pk not in inactive]
    stored = iter(message_create_many(writable) if writable else [])
    return [session_ended() if request.sender.pk in inactive else next(stored) for request in requests]


message_writer = GroupCommit()
