"""The social events (CONTRACT §9): reactMessage, muteChat, unmuteChat, searchMessages. Each is one
hop to the ORM's thread for one service or selector; rate limits are asked on the loop before it."""

from __future__ import annotations

from chat.selectors import search as search_selectors
from chat.services import mute as mute_services
from chat.services import reactions as reaction_services
from chat.sockets import social_docs as docs
from chat.sockets.auth import call_as, event_user
from chat.sockets.server import on
from chat.sockets.social_payloads import (
    MuteChatPayload,
    ReactMessagePayload,
    SearchMessagesPayload,
    UnmuteChatPayload,
)
from chat.state.ratelimit import check_rate
from chat.state.reads import with_presence
from chat.validation import validate


@on("reactMessage", doc=docs.REACT_MESSAGE, ordered=True)
async def react_message(sid: str, payload: dict):
    user, _ = await event_user(sid, payload)
    data = validate(ReactMessagePayload, payload)
    await check_rate(user_id=user.pk, action="react")
    return await call_as(user, reaction_services.message_react, user=user, **data)


@on("muteChat", doc=docs.MUTE_CHAT, ordered=True)
async def mute_chat(sid: str, payload: dict):
    user, _ = await event_user(sid, payload)
    data = validate(MuteChatPayload, payload)
    return await with_presence(await call_as(user, mute_services.chat_mute, user=user, **data))


@on("unmuteChat", doc=docs.UNMUTE_CHAT, ordered=True)
async def unmute_chat(sid: str, payload: dict):
    user, _ = await event_user(sid, payload)
    data = validate(UnmuteChatPayload, payload)
    return await with_presence(await call_as(user, mute_services.chat_unmute, user=user, **data))


@on("searchMessages", doc=docs.SEARCH_MESSAGES)
async def search_messages(sid: str, payload: dict):
    user, _ = await event_user(sid, payload)
    data = validate(SearchMessagesPayload, payload)
    await check_rate(user_id=user.pk, action="search")
    return await call_as(user, search_selectors.message_search, user=user, **data)
