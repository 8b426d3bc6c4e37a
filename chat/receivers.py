"""Reactions to model changes that no service may miss, connected in `ChatConfig.ready()`."""

from __future__ import annotations

from functools import partial

from django.db import transaction
from django.db.models.signals import post_save

from chat.events import disconnect_user_sockets
from chat.models import User


def disconnect_deactivated_user(sender, instance: User, update_fields=None, **kwargs) -> None:
    """A user saved as inactive loses their open sockets once the change commits (CONTRACT §2).

    A receiver rather than a step of the services: the admin's change form, `DELETE /api/users/<id>`
    and `manage.py shell` (`user.is_active = False; user.save()`) all save the model, and all must
    disconnect. A save that names its fields and leaves `is_active` out changed no access (a token
    refreshing a name), so it is skipped. `QuerySet.update()` sends no signal: the per-event `is_active`
    check of the socket layer catches those on the user's next event.
    """
    if instance.is_active:
        return
    if update_fields is not None and "is_active" not in update_fields:
        return
    transaction.on_commit(partial(disconnect_user_sockets, instance.pk), robust=True)


def connect() -> None:
    post_save.connect(disconnect_deactivated_user, sender=User, dispatch_uid="chat.disconnect_deactivated_user")
