"""Reads whose answer shows presence (`isOnline`, `isViewingChat`): the ORM part runs in the ORM's thread
and says what it needs to know; the transport asks presence on the event loop afterwards and fills it in.

A selector returns `WithPresence(value, needs)`: `value` is the answer with every presence field false,
`needs` the users whose online state and the chats whose viewers it shows, and how to fill them in. The
socket handler awaits `with_presence(result)`; a REST view calls it through `async_to_sync`. Presence is
therefore never asked from the ORM's thread, nor while a transaction is open.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from chat.state.presence import PresenceSnapshot

T = TypeVar("T")
Fill = Callable[[PresenceSnapshot], None]


@dataclass
class PresenceNeeds:
    user_ids: set[str] = field(default_factory=set)
    chat_ids: set[int] = field(default_factory=set)
    fills: list[Fill] = field(default_factory=list)

    def ask(self, fill: Fill, *, user_ids: Iterable = (), chat_ids: Iterable[int] = ()) -> None:
        """Look up `user_ids` (online) and `chat_ids` (viewers), then run `fill` with the snapshot.
        Fills run in the order they were asked."""
        self.user_ids.update(str(u) for u in user_ids)
        self.chat_ids.update(int(c) for c in chat_ids)
        self.fills.append(fill)

    def apply(self, snapshot: PresenceSnapshot) -> None:
        for fill in self.fills:
            fill(snapshot)


@dataclass
class WithPresence(Generic[T]):
    value: T
    needs: PresenceNeeds = field(default_factory=PresenceNeeds)


async def with_presence(result: WithPresence[T]) -> T:
    """`result.value` with its presence fields filled from the store, in one call to it."""
    await fill_presence(result.needs)
    return result.value


async def fill_presence(needs: PresenceNeeds) -> None:
    """Ask the store what `needs` names (one call) and run its fills."""
    from chat.state.store import get_state

    if not needs.fills:
        return
    snapshot = PresenceSnapshot()
    if needs.user_ids or needs.chat_ids:
        snapshot = await get_state().presence.snapshot(user_ids=needs.user_ids, chat_ids=needs.chat_ids)
    needs.apply(snapshot)
