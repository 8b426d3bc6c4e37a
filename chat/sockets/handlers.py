"""Client events (CONTRACT §4). Each handler: identify the user, validate the payload, call a service."""

from chat.sockets import auth  # noqa: F401 - connect and disconnect
