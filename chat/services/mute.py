"""Mute (CONTRACT §9): a member silences one chat's message pushes until a time, or until unmuted.

Nothing runs when a mute ends: `ChatMember.muted_until` in the past is simply not a mute (the push
rules and the DTOs compare it with now). Changing it is a `chat.settings` change of the change feed,
seen by that user alone (their other devices).
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from chat.dtos import active_mute, iso
from chat.errors import Forbidden
from chat.models import MUTED_FOREVER, ChangeKind, ChatMember, User
from chat.selectors.chats import chat_header_dto_for
from chat.services.changes import changes_reserve
from chat.state.reads import WithPresence


def chat_mute(*, user: User, chat_id: int, until: datetime | None = None) -> WithPresence[dict]:
    """Mute the chat for `user` until `until` (None: until unmuted); an `until` in the past unmutes.
    Members only (`forbidden`, whether or not the chat exists). Returns the chat's ChatHeaderDto as
    the user sees it now (`muteChat`'s ack). Unread counts are unchanged: only pushes stop."""
    if until is not None and until <= timezone.now():
        until = None
    else:
        until = until or MUTED_FOREVER
    _set(user=user, chat_id=chat_id, muted_until=until)
    return chat_header_dto_for(viewer=user, chat_id=chat_id)


def chat_unmute(*, user: User, chat_id: int) -> WithPresence[dict]:
    """End the user's mute of the chat (members only; unmuting what is not muted changes nothing);
    returns the ChatHeaderDto."""
    _set(user=user, chat_id=chat_id, muted_until=None)
    return chat_header_dto_for(viewer=user, chat_id=chat_id)


def _set(*, user: User, chat_id: int, muted_until: datetime | None) -> None:
    with transaction.atomic():
        log = changes_reserve(1)  # before the member row's lock (chat.services.changes)
        member = ChatMember.objects.select_for_update().filter(chat_id=chat_id, user_id=user.pk).first()
        if member is None:
            raise Forbidden("You are not a member of this chat.")
        before = active_mute(member.muted_until)
        if before != muted_until:
            ChatMember.objects.filter(pk=member.pk).update(muted_until=muted_until)
            log.add(
                ChangeKind.CHAT_SETTINGS,
                chat_id=chat_id,
                audience_id=user.pk,
                data={"mutedUntil": iso(muted_until)},
            )
            log.write()
