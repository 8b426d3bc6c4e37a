"""Moderator and maintenance writes (CONTRACT §8)."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from chat.models import ChatMessage


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
