"""User writes."""

from __future__ import annotations

from django.utils import timezone

from chat.models import User


def user_touch_last_seen(*, user_id) -> None:
    """Remember when a user was last connected (their last socket just closed)."""
    User.objects.filter(pk=user_id).update(last_seen=timezone.now())
