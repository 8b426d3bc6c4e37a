"""The per-socket send bound (chat/sockets/backpressure.py) counts bytes as sent (UTF-8), not characters:
a flood of non-ASCII text reaches CHAT_SOCKET_MAX_QUEUED_BYTES at the same size on the wire as ASCII."""

from __future__ import annotations

import pytest
from engineio import packet

from chat.sockets.backpressure import OutgoingQueue


class _Server:
    sockets: dict = {}


@pytest.mark.parametrize(
    ("text", "wire_bytes"),
    [("a" * 100, 100), ("é" * 100, 200), ("مرحبا" * 20, 200), ("😀" * 100, 400)],
    ids=["ascii", "latin", "arabic", "emoji"],
)
def test_a_flood_overflows_at_the_bound_in_bytes(text, wire_bytes):
    assert len(text.encode()) == wire_bytes
    queue = OutgoingQueue(_Server(), limit=2000)
    fits = 2000 // wire_bytes
    for _ in range(fits):
        queue.put_nowait(packet.Packet(packet.MESSAGE, data=text))
    assert (queue.overflowed, queue.nbytes) == (False, fits * wire_bytes)
    queue.put_nowait(packet.Packet(packet.MESSAGE, data=text))  # one more is past the bound
    assert queue.overflowed
    assert [queue.get_nowait()] == [None]  # what it held is dropped: only the writer's stop is left


def test_taking_a_packet_out_gives_its_bytes_back():
    queue = OutgoingQueue(_Server(), limit=10_000)
    queue.put_nowait(packet.Packet(packet.MESSAGE, data="ü" * 10))
    queue.put_nowait(packet.Packet(packet.MESSAGE, data=b"\x00" * 7))
    assert queue.nbytes == 27
    queue.get_nowait()
    assert queue.nbytes == 7
