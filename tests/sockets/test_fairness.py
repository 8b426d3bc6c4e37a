"""Fairness (CONTRACT §11): one socket flooding the server cannot slow other users down, because at
most CHAT_MAX_EVENTS_IN_FLIGHT of its events are handled at once and the rest wait their turn.

Timing is compared within one test, against the same user's ack times without the flood, with a
generous bound, so that a loaded machine does not make the test flake.
"""

from __future__ import annotations

import asyncio
import statistics
import time

from chat.tokens import issue_token
from tests.sockets._message_helpers import direct_chat, send
from tests.sockets.raw_socket import RawSocket

FLOOD = 2_000


async def ack_times(client, chat_id: int, count: int) -> list[float]:
    times = []
    for i in range(count):
        started = time.perf_counter()
        await send(client, chat_id, f"ping {i}")
        times.append(time.perf_counter() - started)
    return times


async def test_a_flooding_socket_does_not_slow_another_users_acks(chat_server, clients, make_user):
    flooder, alice, bob = make_user("Flooder"), make_user("Alice"), make_user("Bob")
    for i in range(20):  # so that each getMyChats does real work
        direct_chat(flooder, make_user(f"Friend {i}"))
    chat_id = direct_chat(alice, bob)
    victim = await clients(alice)

    quiet = await ack_times(victim, chat_id, 15)

    attacker = await RawSocket(chat_server.url).connect(user_id=flooder.pk, token=issue_token(flooder.pk))
    try:
        for i in range(FLOOD):
            await attacker.send(f'42{i + 1}["getMyChats"]')
        await asyncio.sleep(0.05)  # the flood has reached the server
        loaded = await ack_times(victim, chat_id, 15)
        # The flood is still being worked through while we measured: it was a real flood.
        replies = await attacker.call_event("getMyChats", timeout=60)
        assert len(replies[0]) == 20
    finally:
        await attacker.close()

    quiet_median, loaded_median = statistics.median(quiet), statistics.median(loaded)
    print(f"ack medians: quiet {quiet_median * 1e3:.1f} ms, flooded {loaded_median * 1e3:.1f} ms")
    # Without the bound, the victim's next ack waited behind the whole queued flood (4.8 s measured).
    assert loaded_median < max(0.25, 10 * quiet_median), (quiet_median, loaded_median)
    assert max(loaded) < 1.0, loaded
