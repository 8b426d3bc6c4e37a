"""The message events (CONTRACT §4): createMessage, findAllMessages, updateMessage, removeMessage,
readMessage. Each handler identifies the user, validates the payload's shape and crosses into the ORM's
thread once, for one service or selector call.

Writes are `ordered`: a socket's write events run one at a time in arrival order, which is how one
sender's messages reach every receiver in the order they were sent (CONTRACT §5).

Rate limits and presence (chat.state) are awaited on the loop, before the hop (here, or for a batch of
messages by the group commit, chat/sockets/message_batch.py): the services get the answers as arguments
and never ask the state layer themselves, so nothing waits on Redis while a database transaction is
open, and a slow Redis holds up only the events that wait for it.
"""

from __future__ import annotations

from chat import dtos
from chat.selectors import messages as message_selectors
from chat.services import messages as message_services
from chat.services.messages import NewMessage, ReadRequest
from chat.sockets import event_docs as docs
from chat.sockets.auth import call_as, event_user
from chat.sockets.message_batch import message_writer, read_writer
from chat.sockets.message_payloads import (
    CreateMessagePayload,
    FindAllMessagesPayload,
    ReadMessagePayload,
    RemoveMessagePayload,
    UpdateMessagePayload,
)
from chat.sockets.server import on
from chat.state.ratelimit import check_rate, rate_hit
from chat.validation import validate


@on("createMessage", doc=docs.CREATE_MESSAGE, ordered=True)
async def create_message(sid: str, payload: dict):
    user, _ = await event_user(sid, payload)
    data = validate(CreateMessagePayload, payload)
    allowed = await rate_hit(user_id=user.pk, action="createMessage")
    # Who views the chat (no push for them, CONTRACT §7) is asked once per batch, by the group commit.
    message, _created = await message_writer.submit(
        NewMessage(sender=user, over_rate_limit=not allowed, **data)  # a retry is still answered: the service knows
    )
    return {"chatMessage": dtos.announced_message_dto(message)}


@on("findAllMessages", doc=docs.FIND_ALL_MESSAGES)
async def find_all_messages(sid: str, payload: dict):
    user, _ = await event_user(sid, payload)
    data = validate(FindAllMessagesPayload, payload)
    return await call_as(user, message_selectors.message_page, user=user, **data)


@on("updateMessage", doc=docs.UPDATE_MESSAGE, ordered=True)
async def update_message(sid: str, payload: dict):
    user, _ = await event_user(sid, payload)
    data = validate(UpdateMessagePayload, payload)
    await check_rate(user_id=user.pk, action="edit")
    message = await call_as(user, message_services.message_update, user=user, **data)
    return dtos.message_dto(message)


@on("removeMessage", doc=docs.REMOVE_MESSAGE, ordered=True)
async def remove_message(sid: str, payload: dict):
    user, _ = await event_user(sid, payload)
    data = validate(RemoveMessagePayload, payload)
    await check_rate(user_id=user.pk, action="edit")  # one call counts once, whatever the number of ids
    deleted = await call_as(user, message_services.message_remove, user=user, **data)
    return {"deletedIds": deleted}


@on("readMessage", doc=docs.READ_MESSAGE, ordered=True)
async def read_message(sid: str, payload: dict):
    user, _ = await event_user(sid, payload)
    data = validate(ReadMessagePayload, payload)
    await check_rate(user_id=user.pk, action="read")
    last_read = await read_writer.submit(ReadRequest(user=user, chat_id=data["chat_id"]))
    return {"chatHeaderId": data["chat_id"], "lastReadMessageId": last_read, "unreadCount": 0}
