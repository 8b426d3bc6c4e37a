"""The server's garbage collector settings (chat_project.lifecycle): pauses stay short under load.

A pause grows with the objects a collection looks at, so these count objects, not milliseconds.
"""

from __future__ import annotations

import gc

import pytest

from chat_project import lifecycle


class Cycle:
    def __init__(self) -> None:
        self.me = self  # what requests leave behind: objects only the collector frees


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
