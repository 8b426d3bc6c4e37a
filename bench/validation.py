"""Per-call cost of socket payload validation: the compiled shapes against the DRF serializers they
replaced (kept in tests/sockets/drf_reference_payloads.py), in one run. Not part of `make bench`.

    .venv/bin/python bench/validation.py
"""

from __future__ import annotations

import os
import sys
import timeit
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chat_project.settings")

import django

django.setup()

from chat.errors import Invalid  # noqa: E402
from chat.sockets import message_payloads as m  # noqa: E402
from chat.sockets import room_payloads as r  # noqa: E402
from chat.validation import validate  # noqa: E402
from tests.sockets import drf_reference_payloads as drf  # noqa: E402

CASES = [
    (
        "createMessage",
        "CreateMessagePayload",
        {"chatHeaderId": 12, "message": "hello there", "messageType": 0, "clientMessageId": "c-1"},
    ),
    (
        "createMessage, 4,200 chars",
        "CreateMessagePayload",
        {"chatHeaderId": 12, "message": "héllo " * 700, "messageType": 0},
    ),
    ("createMessage, invalid id", "CreateMessagePayload", {"chatHeaderId": "x", "message": "hi", "messageType": 0}),
    ("findAllMessages", "FindAllMessagesPayload", {"chatHeaderId": 12, "lastMessageId": 55, "maxResultCount": 50}),
    ("updateMessage", "UpdateMessagePayload", {"id": 3, "chatHeaderId": 12, "message": "edited"}),
    ("removeMessage, 100 ids", "RemoveMessagePayload", {"chatHeaderId": 12, "ids": list(range(1, 101))}),
    ("readMessage", "ReadMessagePayload", {"chatHeaderId": 12}),
    ("joinRoom", "JoinRoomPayload", {"chatHeaderId": 12}),
    ("leaveRoom", "LeaveRoomPayload", {"chatHeaderId": 12}),
    ("roomTyping", "RoomTypingPayload", {"chatHeaderId": 12, "isTyping": True, "name": "Ann"}),
    (
        "findAllChatHeaders, 5 rooms",
        "FindAllChatHeadersPayload",
        {
            "MaxResultCount": 20,
            "RoomsWithLastMessageIds": [{"ChatHeaderId": i, "LastMessageId": 9} for i in range(1, 6)],
        },
    ),
    ("getMyChats", "TokenOnlyPayload", {}),
]


def per_call(check, shape, payload) -> float:
    def once():
        try:
            check(shape, payload)
        except Invalid:
            pass

    number = max(1, int(0.05 / max(timeit.timeit(once, number=20) / 20, 1e-9)))
    return min(timeit.repeat(once, number=number, repeat=5)) / number * 1e6


def main() -> None:
    print(f"{'payload':30} {'DRF µs':>9} {'shape µs':>9} {'ratio':>7}")
    for label, name, payload in CASES:
        shape = getattr(m, name, None) or getattr(r, name)
        before = per_call(drf.validate, getattr(drf, name), payload)
        after = per_call(validate, shape, payload)
        print(f"{label:30} {before:9.1f} {after:9.2f} {before / after:6.0f}x")


if __name__ == "__main__":
    main()
