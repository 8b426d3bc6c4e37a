"""The one question chat asks about media: may this sender put this path in a message?

The uploads app answers it; chat reaches it through the dotted path in `CHAT_MEDIA_PATH_CLAIM`, as
Django reaches `EMAIL_BACKEND`, so that chat imports nothing of uploads. A function
`(*, sender, path, message_type) -> bool` that, when it answers True, may record that the path was sent.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.module_loading import import_string


def media_path_claim(*, sender, path: str, message_type: int) -> bool:
    """Whether `sender` may send `path` as a message of `message_type` (inside the message's transaction)."""
    return import_string(settings.CHAT_MEDIA_PATH_CLAIM)(sender=sender, path=path, message_type=message_type)
