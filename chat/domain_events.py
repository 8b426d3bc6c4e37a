"""What happened in chat, for the apps that react to it (STYLE.md, "Seams").

Chat sends these and never imports its receivers: the notifications app connects to them in its
`AppConfig.ready()`. Each is sent inside the service's transaction, so a receiver that writes (the
push outbox) writes in it and commits or rolls back with the change; a receiver that announces
schedules itself with `transaction.on_commit`.
"""

from __future__ import annotations

from django.dispatch import Signal

# Messages are about to be stored, in one transaction (a group commit's batch, or one message), before
# its first write. Argument: `chat_ids`, the set of chats they go to. What a receiver returns comes back
# to it in `messages_stored`'s `prepared`: what it reads here, it reads before the batch takes the change
# feed's counter, which every other recording transaction waits for until this one commits.
messages_storing = Signal()

# Messages were stored, in that transaction. Arguments: `stored`, a list of (ChatMessage with `sender`
# loaded, frozenset of the user ids viewing its chat: asked of presence before the transaction), in the
# order the messages were stored; `prepared`, {receiver of `messages_storing`: what it returned}.
messages_stored = Signal()

# A member read a chat up to a message. Arguments: `user`, `chat_id`, `last_read_message_id` (or None).
chat_read = Signal()
