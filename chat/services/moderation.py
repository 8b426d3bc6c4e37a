"""Moderator and maintenance writes (CONTRACT §8)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from chat.events import chat_room, publish
from chat.models import ChangeKind, ChatMessage
from chat.services.changes import changes_reserve
from chat.services.chats import chat_header_visibility_changed


def messages_purge_deleted(*, older_than: timedelta, dry_run: bool = False) -> int:
    """Hard-delete messages soft-deleted more than `older_than` ago; returns how many.

    Soft-deleted messages are kept for moderators for a while; this is the end of that while.
    Read marks pointing at purged ids stay valid (they are high-water marks, see ChatMember).
    """
    cutoff = timezone.now() - older_than
    doomed = ChatMessage.objects.filter(is_deleted=True, deletion_time__lt=cutoff)
    if dry_run:
        return doomed.count()
    with transaction.atomic():
        count, _ = doomed.delete()
    return count


def _set_deleted(message_ids, *, deleted: bool) -> list[tuple[int, int]]:
    """Soft-delete (or restore) those of `message_ids` that are not already so, and keep each chat's
    visible count and last message right. Call inside a transaction; returns the (id, chat id) changed."""
    rows = list(
        ChatMessage.objects.select_for_update()
        .filter(pk__in=list(message_ids), is_deleted=not deleted)
        .values_list("id", "chat_id")
    )
    if rows:
        ChatMessage.objects.filter(pk__in=[pk for pk, _ in rows]).update(
            is_deleted=deleted, deletion_time=timezone.now() if deleted else None
        )
        for chat_id, count in Counter(chat_id for _, chat_id in rows).items():
            chat_header_visibility_changed(chat_id=chat_id, delta=-count if deleted else count)
    return rows


def messages_moderate_delete(*, message_ids) -> list[int]:
    """A moderator soft-deletes messages of any author: gone from every client read, kept for review.

    Announced like an author's delete: `messageDeleted` once per newly deleted id, after commit.
    """
    message_ids = list(message_ids)
    with transaction.atomic():
        log = changes_reserve(len(message_ids))  # before the messages' row locks (chat.services.changes)
        rows = _set_deleted(message_ids, deleted=True)
        for message_id, chat_id in rows:
            log.add(ChangeKind.MESSAGE_DELETED, chat_id=chat_id, message_id=message_id)
            publish("messageDeleted", message_id, room=chat_room(chat_id))
        log.write()
    return [pk for pk, _ in rows]


def messages_moderate_restore(*, message_ids) -> list[int]:
    """A moderator restores soft-deleted messages: they appear again in history and unread counts.

    Nothing is broadcast: a restored message takes its old place in history, which clients see on
    their next `findAllMessages`/`findAllChatHeaders` rather than as a new `message`. The change feed
    has it as a `message.updated` (its latest state), which a client that syncs puts back in place.
    """
    message_ids = list(message_ids)
    with transaction.atomic():
        log = changes_reserve(len(message_ids))  # before the messages' row locks (chat.services.changes)
        rows = _set_deleted(message_ids, deleted=False)
        for message_id, chat_id in rows:
            seq = log.add(ChangeKind.MESSAGE_UPDATED, chat_id=chat_id, message_id=message_id)
            ChatMessage.objects.filter(pk=message_id).update(seq=seq)
        log.write()
    return [pk for pk, _ in rows]
