"""Room, typing and list events (CONTRACT §4): joinRoom, leaveRoom, roomTyping, findAllChatHeaders,
getMyFriendships, getMyChats.

Each handler validates the payload's shape, identifies the user, asks its rate limit (chat.state, on
the loop), does its database work in one hop to the ORM's thread, fills in the presence the answer
shows (chat.state.reads), and then touches socket state (rooms, viewing, typing) only if the socket is
still connected. Viewing lives in the state layer and is awaited: a join checks the socket again once
its viewing is stored, and takes it back if the socket's disconnect started meanwhile, so that either
the disconnect clears it or we do, and nothing is left behind (the user would never get a push for
that chat again).
"""

from __future__ import annotations

from chat import dtos
from chat.errors import Forbidden, Unauthorized
from chat.events import chat_room
from chat.selectors import lists
from chat.services import rooms
from chat.sockets import event_docs as docs
from chat.sockets import room_payloads as p
from chat.sockets.auth import call_as, event_user, require_connected
from chat.sockets.server import on, sio
from chat.state.ratelimit import check_rate, rate_allows, rate_hit
from chat.state.reads import fill_presence, with_presence
from chat.validation import validate


def _require_same_user(user, claimed: list[str]) -> None:
    for value in claimed:
        if not p.same_user(value, user.pk):
            raise Forbidden("userId is not the user of this access token.")


@on("joinRoom", doc=docs.JOIN_ROOM)
async def join_room(sid: str, payload: dict):
    data = validate(p.JoinRoomPayload, payload)
    user, _ = await event_user(sid, payload)
    _require_same_user(user, [data["user_id"]] if data.get("user_id") else [])
    chat_id = data.get("chat_id")
    # Only a join that creates a chat counts as a new chat: the budget is asked without counting, and
    # counted once the chat was made; a refused call creates nothing (no chat, no placeholder user).
    may_create = chat_id is not None or await rate_allows(user_id=user.pk, action="newChat")
    joined = await call_as(
        user,
        rooms.room_join,
        user=user,
        chat_id=chat_id,
        other_user_id=data.get("other_user_id"),
        may_create=may_create,
    )
    if joined.created:
        await rate_hit(user_id=user.pk, action="newChat")
    await fill_presence(joined.needs)  # the ack's isOnline / isViewingChat
    require_connected(sid)
    await sio.enter_room(sid, chat_room(joined.chat_id))  # local bookkeeping: does not yield
    await rooms.viewing_start(sid=sid, user_id=user.pk, chat_id=joined.chat_id)
    if not sio.manager.is_connected(sid, "/"):
        # The socket's disconnect began while its viewing was being stored, and may have missed it.
        await rooms.viewing_stop(sid=sid, chat_id=joined.chat_id)
        raise Unauthorized("This socket has disconnected.")
    rooms.member_join_announce(
        chat_id=joined.chat_id, member=joined.member, skip_sid=sid, hidden_user_ids=joined.hidden
    )
    return joined.ack


@on("leaveRoom", doc=docs.LEAVE_ROOM)
async def leave_room(sid: str, payload: dict):
    data = validate(p.LeaveRoomPayload, payload)
    user, _ = await event_user(sid, payload)
    chat_id = data["chat_id"]
    await call_as(user, rooms.room_leave_check, user=user, chat_id=chat_id)
    await rooms.viewing_stop(sid=sid, chat_id=chat_id)
    # Whoever stops looking at a chat stops typing in it too.
    async with sio.session(sid) as session:
        name = session["typing"].pop(chat_id, None)
        hidden = _typing_hidden(session).pop(chat_id, ())
    if name is not None:
        rooms.typing_announce(
            chat_id=chat_id, user_id=user.pk, name=name, is_typing=False, skip_sid=sid, hidden_user_ids=hidden
        )
    await sio.leave_room(sid, chat_room(chat_id))
    return dtos.leave_room_ack(chat_id=chat_id)


# `ordered`: a quick "typing" then "stopped" must reach the others in that order.
@on("roomTyping", doc=docs.ROOM_TYPING, ordered=True)
async def room_typing(sid: str, payload: dict):
    data = validate(p.RoomTypingPayload, payload)
    user, session = await event_user(sid, payload)
    chat_id, is_typing = data["chat_id"], data["is_typing"]
    # A stop of a typing this socket announced is never refused by the rate limit (nothing stays stuck).
    if is_typing or chat_id not in session["typing"]:
        await check_rate(user_id=user.pk, action="typing")
    check = await call_as(user, rooms.room_typing_check, user=user, chat_id=chat_id)
    require_connected(sid)
    async with sio.session(sid) as session:
        if is_typing:
            session["typing"][chat_id] = check.name
            _typing_hidden(session)[chat_id] = check.hidden
        else:
            session["typing"].pop(chat_id, None)
            _typing_hidden(session).pop(chat_id, None)
    return rooms.typing_announce(
        chat_id=chat_id,
        user_id=user.pk,
        name=check.name,
        is_typing=is_typing,
        skip_sid=sid,
        hidden_user_ids=check.hidden,
    )


def _typing_hidden(session: dict) -> dict:
    """{chat id: the members across a block whom this socket's typing there skipped}, for its stop."""
    return session.setdefault("typing_hidden", {})


@on("findAllChatHeaders", doc=docs.FIND_ALL_CHAT_HEADERS)
async def find_all_chat_headers(sid: str, payload: dict):
    data = validate(p.FindAllChatHeadersPayload, payload)
    user, _ = await event_user(sid, payload)
    _require_same_user(user, data["user_ids"])
    page = await call_as(
        user, lists.chat_headers_page, user=user, skip=data["skip"], limit=data["limit"], rooms=data["rooms"]
    )
    return await with_presence(page)


@on("getMyFriendships", doc=docs.GET_MY_FRIENDSHIPS, payload_required=False)
async def get_my_friendships(sid: str, payload: dict):
    validate(p.TokenOnlyPayload, payload)
    user, _ = await event_user(sid, payload)
    return await with_presence(await call_as(user, lists.friends_for_user, user=user))


@on("getMyChats", doc=docs.GET_MY_CHATS, payload_required=False)
async def get_my_chats(sid: str, payload: dict):
    validate(p.TokenOnlyPayload, payload)
    user, _ = await event_user(sid, payload)
    return await with_presence(await call_as(user, lists.direct_chats_for_user, user=user))
