"""Client events (CONTRACT §4), registered on import. Each handler: identify the user, validate the
payload, call one service or selector, return the DTO."""

from chat.sockets import (
    auth,  # noqa: F401 - connect and disconnect
    feed_handlers,  # noqa: F401
    message_handlers,  # noqa: F401
    room_handlers,  # noqa: F401
    social_handlers,  # noqa: F401
)
