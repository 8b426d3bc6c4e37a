"""The notifications app's reactions to chat's domain events (connected in `NotificationsConfig.ready`).

They run inside the chat service's transaction and only write outbox rows (`notifications.services`).
"""

from __future__ import annotations

from notifications import services


def queue_message_pushes(sender, *, stored, **kwargs) -> None:
    services.messages_created(stored=stored)


def queue_read_pushes(sender, *, user, chat_id: int, last_read_message_id: int | None, **kwargs) -> None:
    services.chat_read(user=user, chat_id=chat_id, last_read_message_id=last_read_message_id)
