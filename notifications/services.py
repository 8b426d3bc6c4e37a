"""Push notification services (CONTRACT §7). Called by chat services inside their transactions.

The push feature fills these in; until then they do nothing.
"""

from __future__ import annotations


def message_created(*, message) -> None:
    """A message was stored (called inside the creating transaction): queue pushes for it."""


def chat_read(*, user, chat_id: int, last_read_message_id: int | None) -> None:
    """`user` read a chat (called inside the transaction): tell their other devices to clear it."""
