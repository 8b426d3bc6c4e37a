"""`createsuperuser` for a user model keyed by GUID: says what the id is, and offers a fresh one.

Django's command would ask for "Id:" with no hint, and refuse anything that is not a GUID. A
moderator's id is the GUID of that person in the identity system (their `userId` in tokens), so that
the same person is one user in chats and in the admin; one who is only a moderator takes the offered
random one. chat_project is listed before django.contrib.auth in INSTALLED_APPS so that this one runs.
"""

from __future__ import annotations

import uuid

from django.contrib.auth.management.commands import createsuperuser


class Command(createsuperuser.Command):
    help = (
        "Create a moderator who may log in to /admin/. The id is the user's GUID: their userId in your "
        "identity system (the `sub` of their tokens), or a new random one."
    )

    def get_input_data(self, field, message, default=None):
        if field is self.username_field:
            default = default or str(uuid.uuid4())
            message = (
                "User id: the person's GUID in your identity system (their userId in tokens), "
                f"or leave blank for a new one ({default}): "
            )
        return super().get_input_data(field, message, default)
