"""The server's garbage collector settings (chat_project.lifecycle): pauses stay short under load.

A pause grows with the objects a collection looks at, so these count objects, not milliseconds.
"""

from __future__ import annotations

import asyncio
import gc
import threading

import pytest

from chat_project import lifecycle


class Cycle:
    def __init__(self) -> None:
        self.me = self  # what requests leave behind: objects only the collector frees


class Waiter:
    """A live object the collector has to look at, as a socket's pending task is."""


@pytest.fixture
def tuned():
    threshold = gc.get_threshold()
    lifecycle._tune_garbage_collector()
    collected: list[tuple[int, int]] = []

    def record(phase, info):
        if phase == "stop":
            collected.append((info["generation"], info["collected"]))

    gc.callbacks.append(record)
    yield collected
    gc.callbacks.remove(record)
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_start_up_objects_are_out_of_the_collectors_sight(tuned):
    assert gc.get_freeze_count() > 10_000  # Django, the apps, python-socketio: everything loaded by now


def test_young_collections_stay_small_and_full_ones_stay_away(tuned):
    for _ in range(20_000):
        Cycle()
    young = [n for generation, n in tuned if generation < 2]
    # Many small collections, never one over tens of thousands of objects (a 50,000-object young
    # generation paused the server 40-70 ms), and no full collection over every socket's objects.
    assert len(young) >= 20
    assert max(young) <= 2_000
    assert all(generation < 2 for generation, _ in tuned)


def _young_behind_the_count(count: int) -> list[Waiter]:
    """`count` live young objects that CPython's count does not see: each is made as an older object
    ends (a thousand sockets' waiters: made, outliving a collection, then finished), so allocations
    minus deallocations stay under the young threshold while the young generation grows."""
    older = [Waiter() for _ in range(count)]
    gc.collect()  # the older ones leave the young generation
    young = []
    for _ in range(count):
        young.append(Waiter())
        older.pop()
    return young


@pytest.fixture
def ticks():
    """The collections that start in this thread (the test's loop), by generation."""
    here = threading.get_ident()
    started: list[int] = []

    def record(phase, info):
        if phase == "start" and threading.get_ident() == here:
            started.append(info["generation"])

    gc.callbacks.append(record)
    yield started
    gc.callbacks.remove(record)


async def test_young_collections_on_a_clock_find_what_the_count_misses(tuned, ticks):
    collections = lifecycle._YoungCollections()
    young = _young_behind_the_count(20_000)
    ticks.clear()  # the fill's own full collection
    collections.start(0.005)
    try:
        # A server under load: more waiters made as older ones finish, for 0.2 s.
        loop = asyncio.get_running_loop()
        until = loop.time() + 0.2
        made = 0
        while loop.time() < until:
            for _ in range(200):
                young[made % len(young)] = Waiter()  # the waiter it replaces ends
                made += 1
            await asyncio.sleep(0.001)
        # Without the clock, the next young collection (whenever 700 more objects are made than end)
        # would look at all of them at once: 5-40 ms under load.
        young_generation = len(gc.get_objects(0))
        assert young_generation < 5_000
        assert len(ticks) >= 10  # every 5 ms while each tick finds work
        assert 1 in ticks  # the middle generation at every threshold[1]-th tick, as CPython would
        assert 2 not in ticks  # full collections stay CPython's
    finally:
        collections.stop()
    assert len(young) == 20_000


async def test_an_idle_clock_slows_down(tuned, ticks):
    collections = lifecycle._YoungCollections()
    collections.start(0.005)
    try:
        await asyncio.sleep(0.4)  # nothing made: 80 ticks at 5 ms; backing off, 5, 10, 20, 40, 80, 160 ms
    finally:
        collections.stop()
    assert 1 <= len(ticks) <= 20


def test_the_server_collects_its_young_generation_on_a_clock(chat_server):
    task = lifecycle.young_collections._task
    assert task is not None and not task.done()


async def test_a_zero_interval_leaves_collections_to_cpython():
    collections = lifecycle._YoungCollections()
    collections.start(0)
    assert collections._task is None
