"""Blocks hide each side from the other (CONTRACT §11): the sockets an event about one user must skip.

An event about what a user did (typing, joining, reading) goes to the chat's room, less the sockets of
the members on the other side of a block from that user. Those sockets are looked up at emit time,
after the commit: never while a database write lock is held, and including any socket opened since
the service ran. python-socketio's `skip_sid` takes a list, also through the Redis manager (the list
travels in the pub/sub message and every worker skips its own sockets on it).
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial

from django.db import transaction

from chat.events import bridge, publish
from chat.state.presence import get_presence


def skip_list(skip_sid: str | None, hidden_user_ids: Iterable) -> str | list[str] | None:
    """`skip_sid` plus every socket of the hidden users, as python-socketio's `skip_sid` takes it."""
    presence = get_presence()
    sids = [sid for user_id in hidden_user_ids for sid in presence.user_sids(str(user_id))]
    if not sids:
        return skip_sid
    if skip_sid is not None:
        sids.append(skip_sid)
    return sids


def emit_hidden(event: str, data, *, room: str, hidden_user_ids: Iterable, skip_sid: str | None = None) -> None:
    """Emit to `room` now, skipping `skip_sid` and the sockets of `hidden_user_ids`."""
    hidden = list(hidden_user_ids)
    bridge.emit(event, data, room=room, skip_sid=skip_list(skip_sid, hidden) if hidden else skip_sid)


def publish_hidden(event: str, data, *, room: str, hidden_user_ids: Iterable, skip_sid: str | None = None) -> None:
    """`chat.events.publish`, also skipping the sockets of `hidden_user_ids` (found after the commit)."""
    hidden = list(hidden_user_ids)
    if not hidden:
        publish(event, data, room=room, skip_sid=skip_sid)
        return
    transaction.on_commit(
        partial(emit_hidden, event, data, room=room, hidden_user_ids=hidden, skip_sid=skip_sid), robust=True
    )
