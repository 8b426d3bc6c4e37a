"""The notifications app's reactions to chat's domain events (connected in `NotificationsConfig.ready`).

They run inside the chat service's transaction and only write outbox rows (`notifications.services`).
"""

from __future__ import annotations

from notifications import services


def read_message_devices(sender, *, chat_ids, **kwargs):
    return services.message_devices(chat_ids=chat_ids)


def queue_message_pushes(sender, *, stored, prepared=None, **kwargs) -> None:
    services.messages_created(stored=stored, devices=(prepared or {}).get(read_message_devices))


def queue_read_pushes(sender, *, user, chat_id: int, last_read_message_id: int | None, **kwargs) -> None:
    services.chat_read(user=user, chat_id=chat_id, last_read_message_id=last_read_message_id)
