"""Reactions (CONTRACT §9 `reactMessage`): a member puts an emoji on a visible message, or takes it off.

One row per (message, user, emoji) under a unique constraint, so adding twice stores one row, also when
two devices add at once; removing what is absent changes nothing. Which strings are one emoji is the
`emoji` package's answer (the Unicode emoji list it ships, updated with each Unicode release), never a
hand-written pattern. A change that did something is a `message.reactions` change of the feed, and
`messageReactions` goes to the chat's room once it commits.
"""

from __future__ import annotations

import emoji as emoji_data
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from chat.errors import Blocked, Forbidden, Invalid
from chat.events import chat_room, publish
from chat.models import ChangeKind, ChatMessage, Friendship, FriendshipStatus, Reaction, User
from chat.selectors.social import reactions_by_message
from chat.services.changes import changes_reserve

MAX_EMOJI_PER_USER = 20


def clean_emoji(value: str) -> str:
    """`value` if it is exactly one emoji (a skin tone, a ZWJ sequence or a flag counts as one), else `invalid`."""
    value = value.strip()
    if not emoji_data.is_emoji(value):
        raise Invalid("emoji: must be exactly one emoji.")
    return value


def message_react(*, user: User, chat_id: int, message_id: int, emoji: str, remove: bool = False) -> dict:
    """Add (or with `remove`, take off) the user's `emoji` on a message; returns `messageReactions`
    `{chatHeaderId, messageId, reactions}`.

    Rules: `emoji` is one emoji (`invalid`); the user is a member of `chat_id` and the message is a
    visible message of that chat (`forbidden` otherwise, whether or not it exists); in a one-to-one
    chat with a block either way, `blocked`, as sending is; at most 20 different emoji per user per
    message (a 21st: `invalid`). Adding what is there, or removing what is not, changes and announces
    nothing, and answers the current reactions. Rate limited ("react", counted by the transport).
    """
    emoji = clean_emoji(emoji)
    blocked = Friendship.objects.filter(pair_key=OuterRef("chat__direct_key"), status=FriendshipStatus.BLOCKED)
    with transaction.atomic():
        log = changes_reserve(1)  # before the reaction rows' locks (chat.services.changes)
        message = (
            ChatMessage.objects.filter(
                pk=message_id, chat_id=chat_id, is_deleted=False, chat__memberships__user_id=user.pk
            )
            .annotate(blocked=Exists(blocked))
            .values("id", "blocked")
            .first()
        )
        if message is None:
            raise Forbidden("You can only react to visible messages of chats you are a member of.")
        if message["blocked"]:
            raise Blocked("You cannot react in this chat: one of you has blocked the other.")
        mine = Reaction.objects.filter(message_id=message_id, user_id=user.pk)
        if remove:
            changed = mine.filter(emoji=emoji).delete()[0] > 0
        else:
            changed = _add(mine, message_id=message_id, user=user, emoji=emoji)
        reactions = reactions_by_message([message_id]).get(message_id, [])
        event = {"chatHeaderId": chat_id, "messageId": message_id, "reactions": reactions}
        if changed:
            seq = log.add(
                ChangeKind.MESSAGE_REACTIONS,
                chat_id=chat_id,
                message_id=message_id,
                data={"messageId": message_id, "reactions": reactions},
            )
            ChatMessage.objects.filter(pk=message_id).update(seq=seq)  # MessageDto.seq: its latest change
            log.write()
            publish("messageReactions", event, room=chat_room(chat_id))
    return event


def _add(mine, *, message_id: int, user: User, emoji: str) -> bool:
    """Store the reaction; False when it was there. The unique constraint settles two adds at once."""
    emojis = set(mine.values_list("emoji", flat=True))
    if emoji in emojis:
        return False
    if len(emojis) >= MAX_EMOJI_PER_USER:
        raise Invalid(f"emoji: at most {MAX_EMOJI_PER_USER} different emoji per message.")
    try:
        with transaction.atomic():  # a savepoint: a concurrent add of the same emoji wins, this one is a no-op
            Reaction.objects.create(message_id=message_id, user=user, emoji=emoji, creation_time=timezone.now())
    except IntegrityError:
        return False
    return True
