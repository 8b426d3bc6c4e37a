"""The ceiling `make bench` measures against: a bare python-socketio relay that stores nothing.

    python -m uvicorn bench.relay:application --ws-per-message-deflate false

The same python-socketio and engine.io, configured as chat/sockets/server.py configures ours (orjson,
both transports, the same ping and buffer settings, loggers off), under uvicorn with per-message deflate
off, as bench/run.py starts our server. It speaks what bench/load.mjs sends, so that one load generator
drives both:

  - connect: accepted with any `query.userId` (no token check);
  - `joinRoom {chatHeaderId}`: enters the room, acks `{chatHeaderId, joined: true}`;
  - `createMessage {chatHeaderId, message, messageType, ...}`: emits `message` `{"chatMessage": MessageDto}`
    to the room (the sender's own socket included, as ours does), then acks the same object;
  - `getMyChats`: `[]`.

No Django, no database, no validation, no ordering, no presence: what is left is the cost of the
protocol itself, the part of our per-message cost that no change to our code can remove.
"""

from __future__ import annotations

import itertools
import json as stdlib_json
from datetime import UTC, datetime
from urllib.parse import parse_qs

import orjson
import socketio


class OrjsonAdapter:
    """orjson for python-socketio's `json=` option, as ours uses it (orjson returns bytes)."""

    @staticmethod
    def dumps(obj, **kwargs) -> str:
        return orjson.dumps(obj).decode()

    @staticmethod
    def loads(data, **kwargs):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            return stdlib_json.loads(data)


sio = socketio.AsyncServer(
    async_mode="asgi",
    json=OrjsonAdapter,
    cors_allowed_origins="*",
    ping_interval=25,  # chat_project/settings.py's defaults
    ping_timeout=20,
    max_http_buffer_size=1_000_000,
    logger=False,
    engineio_logger=False,
    transports=["polling", "websocket"],
)
_ids = itertools.count(1)


@sio.event
async def connect(sid, environ, auth=None):
    user_id = parse_qs(environ.get("QUERY_STRING", "")).get("userId", [""])[0]
    await sio.save_session(sid, {"userId": user_id})


@sio.on("joinRoom")
async def join_room(sid, payload):
    chat_id = payload["chatHeaderId"]
    await sio.enter_room(sid, f"chat:{chat_id}")
    return {"chatHeaderId": chat_id, "joined": True}


@sio.on("createMessage")
async def create_message(sid, payload):
    session = await sio.get_session(sid)
    user_id = session["userId"]
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    answer = {
        "chatMessage": {
            "id": next(_ids),
            "chatHeaderId": payload["chatHeaderId"],
            "userId": user_id,
            "message": payload.get("message"),
            "messageType": payload.get("messageType", 0),
            "caption": payload.get("caption"),
            "clientMessageId": payload.get("clientMessageId"),
            "creationTime": now,
            "lastModificationTime": None,
            "isEdited": False,
            "user": {"id": user_id, "name": None, "avatar": None},
        }
    }
    await sio.emit("message", answer, room=f"chat:{payload['chatHeaderId']}")
    return answer


@sio.on("getMyChats")
async def get_my_chats(sid, payload=None):
    return []


async def healthz(scope, receive, send):
    """`/healthz` for bench/run.py's start-up wait; 404 for anything else."""
    if scope["type"] != "http":
        return
    status = 200 if scope["path"] == "/healthz" else 404
    await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok" if status == 200 else b""})


application = socketio.ASGIApp(sio, healthz, socketio_path="socket.io")
