"""A user's push settings (CONTRACT §9): do-not-disturb, `GET`/`PUT /api/notifications/settings`.

While `do_not_disturb_until` lies ahead the user gets no message pushes at all (the push rules in
notifications.services read it in the query that finds the devices); once it is past it is simply over.
Read-clear pushes still go: they only remove notifications.
"""

from __future__ import annotations

from datetime import datetime

from chat.dtos import active_mute
from chat.models import User
from notifications.models import NotificationSettings


def notification_settings_get(*, user: User) -> datetime | None:
    """The user's do-not-disturb end while it lies ahead, else None."""
    row = NotificationSettings.objects.filter(user_id=user.pk).values_list("do_not_disturb_until", flat=True).first()
    return active_mute(row)


def notification_settings_update(*, user: User, do_not_disturb_until: datetime | None) -> datetime | None:
    """Set (or, with None or a time in the past, end) the user's do-not-disturb; returns it as `GET` shows it."""
    until = active_mute(do_not_disturb_until)
    NotificationSettings.objects.update_or_create(user_id=user.pk, defaults={"do_not_disturb_until": until})
    return until
