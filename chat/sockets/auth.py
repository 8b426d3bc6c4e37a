"""Who is on the other end of a socket (CONTRACT §3), and the connect/disconnect handlers.

A socket is *verified* once a token for its `userId` has been checked: at connect (auth, query or
header) or, for the spec's tokenless "Basic Connection", by its first event that carries one. Only
verified sockets join their user's room, count for presence and hear chat traffic.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import cache
from typing import TypeVar
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from socketio.exceptions import ConnectionRefusedError

from chat import dtos
from chat.errors import Forbidden, Invalid, Unauthorized
from chat.events import user_room
from chat.models import User
from chat.selectors import chats as chat_selectors
from chat.services import rooms
from chat.services import users as user_services
from chat.sockets.server import SessionEnded, sio
from chat.sql import array_param, hot_cursor
from chat.state.presence import SocketLimitReached
from chat.state.store import get_state
from chat.tokens import decode_token, user_for_claims
from chat.validation import parse_user_id

logger = logging.getLogger("chat.sockets")
T = TypeVar("T")


def _first(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def handshake_token(environ: dict, auth) -> str | None:
    if isinstance(auth, dict):
        for key in ("accessToken", "token", "AccessToken"):
            value = auth.get(key)
            if isinstance(value, str) and value.strip():
                return value
    query = parse_qs(environ.get("QUERY_STRING", ""))
    value = _first(query, "accessToken") or _first(query, "token")
    if value:
        return value
    header = environ.get("HTTP_AUTHORIZATION")
    return header or None


def _token_user(raw: str) -> tuple[User, int]:
    claims = decode_token(raw)
    return user_for_claims(claims), claims.expires_at


@sio.event
async def connect(sid, environ, auth=None):
    try:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        raw_user_id = _first(query, "userId")
        if raw_user_id is None and isinstance(auth, dict):
            raw_user_id = auth.get("userId")
        claimed = parse_user_id(raw_user_id)
        if claimed is None:
            raise ConnectionRefusedError("userId query parameter is required and must be a GUID")
        client_type = (_first(query, "clientType") or "web")[:32]
        token = handshake_token(environ, auth)
        # "typing": {chat id: announced name} for the chats this socket said it is typing in, so that a
        # disconnect can stop them (CONTRACT §3).
        session = {"claimed_user_id": str(claimed), "client_type": client_type, "user": None, "typing": {}}
        if token is None:
            if settings.CHAT_REQUIRE_SOCKET_TOKEN:
                raise ConnectionRefusedError("an access token is required")
            await sio.save_session(sid, session)
            return True
        try:
            user, expires_at = await sync_to_async(_token_user)(token)
        except Unauthorized as exc:
            raise ConnectionRefusedError(exc.message) from exc
        if str(user.pk) != str(claimed):
            raise ConnectionRefusedError("the access token belongs to another user than userId")
        session.update(token=token.strip(), token_expires_at=expires_at)
        await sio.save_session(sid, session)
        try:
            await _bind(sid, session, user, connecting=True)
        except Unauthorized as exc:
            raise ConnectionRefusedError(exc.message) from exc
        return True
    except ConnectionRefusedError:
        raise
    except Exception as exc:
        logger.exception("connect failed for %s", sid)
        raise ConnectionRefusedError("server error while connecting") from exc


async def _bind(sid: str, session: dict, user: User, *, connecting: bool = False) -> None:
    """Make the socket count as its user: user room, presence, `clientStatus` when newly online.

    A socket that binds through its first event counts as connecting at that moment. If it went away
    while its token was being checked, or while presence was storing it, it must not stay counted: its
    disconnect has already run (it found no user in the session) and nothing would ever remove it from
    presence again. So it is checked again once presence answered, and taken back out if it is gone.
    """
    if session.get("user") is not None:
        return  # two first events raced: the other one bound it
    if not connecting:
        require_connected(sid)
    presence = get_state().presence
    try:
        came_online = await presence.add_socket(
            str(user.pk), sid, session["client_type"], limit=settings.CHAT_MAX_SOCKETS_PER_USER or None
        )
    except SocketLimitReached as exc:
        limit = settings.CHAT_MAX_SOCKETS_PER_USER
        raise Unauthorized(f"Too many connections: a user may hold at most {limit} at once.") from exc
    if not connecting and not sio.manager.is_connected(sid, "/"):
        await presence.remove_socket(str(user.pk), sid)
        raise Unauthorized("This socket has disconnected.")
    # Two first events may both get here; the one whose add_socket brought the user online announces.
    async with sio.session(sid) as stored:
        stored["user"] = user
    await sio.enter_room(sid, user_room(user.pk))
    if came_online:
        await announce_status(user, session["client_type"], active=True)


def require_connected(sid: str) -> None:
    """Refuse to give a socket state (presence, rooms, viewing, typing) once its disconnect has run:
    nothing would ever clear it. Call it with no await between it and the change it guards."""
    if not sio.manager.is_connected(sid, "/"):
        raise Unauthorized("This socket has disconnected.")


async def announce_status(user: User, client_type: str, *, active: bool) -> None:
    contacts = await sync_to_async(chat_selectors.contact_user_ids)(user_id=user.pk)
    if contacts:
        payload = dtos.client_status_event(user_id=user.pk, client_type=client_type, active=active)
        await sio.emit("clientStatus", payload, to=[user_room(uid) for uid in contacts])


@sio.event
async def disconnect(sid, reason=None):
    try:
        session = await sio.get_session(sid)
    except KeyError:
        return
    user = session.get("user")
    if user is None:
        return
    if session.get("typing"):
        try:
            # A socket that goes away stops the typing it announced (CONTRACT §3).
            rooms.typing_stop_all(
                sid=sid, user_id=user.pk, typing=session["typing"], hidden=session.get("typing_hidden", {})
            )
        except Exception:
            logger.exception("stopping the typing of %s failed", sid)
    went_offline, _ = await get_state().presence.remove_socket(str(user.pk), sid)
    if went_offline:
        try:
            await sync_to_async(user_services.user_touch_last_seen)(user_id=user.pk)
            await announce_status(user, session["client_type"], active=False)
        except Exception:
            logger.exception("offline announcement failed for %s", user.pk)


def _identity_expired(session: dict) -> bool:
    expires_at = session.get("token_expires_at")
    return expires_at is not None and expires_at + settings.CHAT_JWT_LEEWAY < time.time()


async def event_user(sid: str, payload: dict) -> tuple[User, dict]:
    """The user an event acts for: its payload token when present, else the socket's verified user.

    On a verified socket a payload token of another user is `forbidden`; on an unverified socket a
    valid token for the socket's own `userId` verifies it. A socket's identity lasts as long as the
    token that verified it: past its `exp`, an event without a valid payload token ends the session
    (`unauthorized`, then the socket is disconnected); a valid payload token renews it.
    """
    session = await sio.get_session(sid)
    raw = payload.get("accessToken")
    if raw is None:
        raw = payload.get("AccessToken")
    user = session.get("user")
    expired = user is not None and _identity_expired(session)
    if raw is None or raw == "":
        if user is None:
            raise Unauthorized("This socket is not verified: send an accessToken.")
        if expired:
            raise SessionEnded("This socket's access token has expired: reconnect with a fresh one.")
        return user, session
    if not isinstance(raw, str):
        raise Invalid("accessToken must be a string.")
    token = raw.strip()
    if user is not None and token == session.get("token") and not expired:
        return user, session
    try:
        token_user, expires_at = await sync_to_async(_token_user)(token)
    except Unauthorized as exc:
        if expired:
            raise SessionEnded(exc.message) from exc
        raise
    if user is not None:
        if token_user.pk != user.pk:
            raise Forbidden("The access token belongs to another user than this socket.")
        async with sio.session(sid) as session:
            session.update(user=token_user, token=token, token_expires_at=expires_at)
        return token_user, session
    if str(token_user.pk) != session["claimed_user_id"]:
        raise Forbidden("The access token belongs to another user than this socket's userId.")
    async with sio.session(sid) as session:
        session.update(token=token, token_expires_at=expires_at)
    await _bind(sid, session, token_user)
    return token_user, session


async def call_as(user: User, fn: Callable[..., T], /, **kwargs) -> T:
    """`fn(**kwargs)` (a service or selector) in the ORM's thread, in the same hop as a check that
    `user` is still active: a deactivation that no service saw (an UPDATE in the database) ends the
    socket's session at its next event at the latest (CONTRACT §2), at no extra hop per event."""
    return await _call_as(user.pk, fn, kwargs)


@sync_to_async
def _call_as(user_id, fn, kwargs):
    if inactive_user_ids({user_id}):
        raise session_ended()
    return fn(**kwargs)


def inactive_user_ids(user_ids: set) -> set:
    """Those of `user_ids` that are deactivated (or gone), in one query; in the ORM's thread.

    It runs before every event's service and every group-committed batch of reads (a batch of messages
    asks in its send check, `chat.selectors.messages.send_access`), so it is one hand-written
    query: the ORM's queryset, its compiler and its UUID conversions on the way in and out cost ten
    times what the database does here (py-spy, bench/write_path.py)."""
    user_ids = set(user_ids)
    if not user_ids:
        return set()
    pk = User._meta.pk
    db = connections[DEFAULT_DB_ALIAS]  # not the `connection` proxy: a thread-local look-up per access
    by_value = {pk.get_db_prep_value(user_id, db): user_id for user_id in user_ids}
    with hot_cursor() as cursor:
        if db.vendor == "postgresql":  # one short statement for every count
            cursor.execute(_active_users_sql(0), [True, list(by_value)])
        else:
            cursor.execute(_active_users_sql(len(by_value)), [True, *by_value])
        active = {by_value[value] for (value,) in cursor.fetchall() if value in by_value}
    return user_ids - active


@cache
def _active_users_sql(count: int) -> str:
    """`count` ids in an IN list; 0: one array (PostgreSQL)."""
    db = connections[DEFAULT_DB_ALIAS]
    q = db.ops.quote_name
    pk = q(User._meta.pk.column)
    within = f"= ANY({array_param(User._meta.pk, db)})" if count == 0 else f"IN ({', '.join(['%s'] * count)})"
    return (
        f"SELECT {pk} FROM {q(User._meta.db_table)}"
        f" WHERE {q(User._meta.get_field('is_active').column)} = %s AND {pk} {within}"
    )


def session_ended() -> SessionEnded:
    """The answer to an event of a deactivated user: `unauthorized`, then the socket is disconnected."""
    return SessionEnded("This account is disabled.")


async def socket_user_or_none(sid: str) -> User | None:
    try:
        session = await sio.get_session(sid)
    except KeyError:
        return None
    return session.get("user")
