"""Blocks hide each side from the other (CONTRACT §11): the sockets an event about one user must skip.

An event about what a user did (typing, joining, reading) goes to the chat's room, less the sockets of
the members on the other side of a block from that user. Those sockets are looked up by the bridge on
the event loop at emit time (chat.events), after the commit: never from the ORM's thread, never while a
database write lock is held, and including any socket opened since the service ran. python-socketio's
`skip_sid` takes a list, also through the Redis manager (the list travels in the pub/sub message and
every worker skips its own sockets on it).
"""

from __future__ import annotations

from collections.abc import Iterable

from chat.events import bridge, publish


def emit_hidden(event: str, data, *, room: str, hidden_user_ids: Iterable, skip_sid: str | None = None) -> None:
    """Emit to `room` now, skipping `skip_sid` and the sockets of `hidden_user_ids`."""
    hidden = tuple(hidden_user_ids)
    if hidden:
        bridge.emit(event, data, room=room, skip_sid=skip_sid, hidden_user_ids=hidden)
    else:
        bridge.emit(event, data, room=room, skip_sid=skip_sid)


def publish_hidden(event: str, data, *, room: str, hidden_user_ids: Iterable, skip_sid: str | None = None) -> None:
    """`chat.events.publish`, also skipping the sockets of `hidden_user_ids` (found after the commit)."""
    publish(event, data, room=room, skip_sid=skip_sid, hidden_user_ids=hidden_user_ids)
