"""What happened in chat, for the apps that react to it (STYLE.md, "Seams").

Chat sends these and never imports its receivers: the notifications app connects to them in its
`AppConfig.ready()`. Each is sent inside the service's transaction, so a receiver that writes (the
push outbox) writes in it and commits or rolls back with the change; a receiver that announces
schedules itself with `transaction.on_commit`.
"""

from __future__ import annotations

from django.dispatch import Signal

# A message was stored. Arguments: `message` (ChatMessage, with `sender` loaded), `viewing_user_ids`
# (frozenset of user ids: who was viewing the chat, asked of presence before the transaction).
message_stored = Signal()

# A member read a chat up to a message. Arguments: `user`, `chat_id`, `last_read_message_id` (or None).
chat_read = Signal()
