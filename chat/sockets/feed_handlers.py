"""The change-feed events (CONTRACT §9): `sync` (reconnect without losing anything) and `markDelivered`
(delivery receipts). `sync` is one read in the ORM's thread, its presence filled in on the loop;
`markDelivered` is group-committed like `readMessage` (chat.sockets.message_batch)."""

from __future__ import annotations

from chat.selectors import changes as change_selectors
from chat.services.messages import DeliveredRequest
from chat.sockets import feed_docs as docs
from chat.sockets.auth import call_as, event_user
from chat.sockets.feed_payloads import MarkDeliveredPayload, SyncPayload
from chat.sockets.message_batch import delivered_writer
from chat.sockets.server import on
from chat.state.ratelimit import check_rate
from chat.state.reads import with_presence
from chat.validation import validate


@on("sync", doc=docs.SYNC)
async def sync(sid: str, payload: dict):
    user, _ = await event_user(sid, payload)
    data = validate(SyncPayload, payload)
    return await with_presence(await call_as(user, change_selectors.changes_page, user=user, **data))


@on("markDelivered", doc=docs.MARK_DELIVERED, ordered=True)
async def mark_delivered(sid: str, payload: dict):
    user, _ = await event_user(sid, payload)
    data = validate(MarkDeliveredPayload, payload)
    await check_rate(user_id=user.pk, action="read")  # shared with readMessage (CONTRACT §11)
    delivered = await delivered_writer.submit(DeliveredRequest(user=user, **data))
    return {"chatHeaderId": data["chat_id"], "lastDeliveredMessageId": delivered}
