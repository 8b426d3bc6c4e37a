"""What happened in chat, for the apps that react to it (STYLE.md, "Seams").

Chat sends these and never imports its receivers: the notifications app connects to them in its
`AppConfig.ready()`. Each is sent inside the service's transaction, so a receiver that writes (the
push outbox) writes in it and commits or rolls back with the change; a receiver that announces
schedules itself with `transaction.on_commit`.
"""

from __future__ import annotations

from django.dispatch import Signal

# Messages were stored, in one transaction (a group commit's batch, or one message). Argument: `stored`,
# a list of (ChatMessage with `sender` loaded, frozenset of the user ids viewing its chat: asked of
# presence before the transaction), in the order the messages were stored.
messages_stored = Signal()

# A member read a chat up to a message. Arguments: `user`, `chat_id`, `last_read_message_id` (or None).
chat_read = Signal()
