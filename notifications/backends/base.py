"""The push backend interface, chosen by `PUSH_BACKEND` (a dotted path, as Django's `EMAIL_BACKEND`).

A backend gets a batch of `OutgoingPush` and answers one `PushResult` per item, in order. It never
touches the database: the delivery loop decides what an outcome means for the outbox row and the
device (retry, drop the token, give up).
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field

from django.conf import settings
from django.utils.module_loading import import_string


class Outcome(enum.Enum):
    SENT = "sent"
    # The token will never work again (unregistered, another sender's, malformed): delete it.
    INVALID_TOKEN = "invalid_token"
    # Worth trying again later (unavailable, internal, quota, network).
    RETRY = "retry"
    # Our credentials (or the APNs/web push keys behind them) were refused: keep tokens, retry later.
    AUTH = "auth"
    # This push can never be sent as it is (e.g. a payload FCM refuses): give up, keep the token.
    FATAL = "fatal"


@dataclass(frozen=True)
class OutgoingPush:
    """One push to one device, as the delivery loop hands it to a backend."""

    push_id: int
    token: str
    platform: str
    user_id: str
    kind: str
    title: str = ""
    body: str = ""
    data: dict[str, str] = field(default_factory=dict)
    badge: int | None = None
    chat_id: int | None = None

    @property
    def data_only(self) -> bool:
        return not self.title and not self.body


@dataclass(frozen=True)
class PushResult:
    outcome: Outcome
    error: str = ""
    retry_after: float | None = None  # seconds the provider asked us to wait (Retry-After)
    message_id: str = ""

    @classmethod
    def sent(cls, message_id: str = "") -> PushResult:
        return cls(Outcome.SENT, message_id=message_id or "")


class BasePushBackend:
    """Subclass and implement `send_messages`. Constructor keywords mirror Django's mail backends."""

    def __init__(self, fail_silently: bool = False, **kwargs) -> None:
        self.fail_silently = fail_silently

    def send_messages(self, pushes: Sequence[OutgoingPush]) -> list[PushResult]:
        raise NotImplementedError


def get_backend(backend: str | None = None, **kwargs) -> BasePushBackend:
    """An instance of the configured backend (or of the dotted path given)."""
    return import_string(backend or settings.PUSH_BACKEND)(**kwargs)


def wire_line(push: OutgoingPush) -> dict:
    """The CONTRACT §7 shape of a push, as the filebased and console backends write it."""
    return {
        "token": push.token,
        "userId": push.user_id,
        "title": push.title or None,
        "body": push.body or None,
        "data": push.data,
    }
