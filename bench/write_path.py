"""The write path alone, in-process: `.venv/bin/python bench/write_path.py [--database-url URL] [--profile]`.

What one group-committed batch of `createMessage`s costs in the ORM's thread (the part of a message's cost
that `make bench` cannot take apart): `chat.sockets.message_batch`'s store function (the active-user check,
then `message_create_many`: checks, INSERTs, change log, headers, push rows, the commit) over batches of 1,
10, 50 and 100 messages, each message in its own one-to-one chat, as under the closed loop; and a lone
message to a group of `--group` members (100), as under the fan-out. Prints microseconds per message and
per batch, wall-clock and the thread's CPU time (`time.thread_time`: steadier than wall-clock time on
a shared machine, and what the event loop competes with for the GIL). A throw-away database: a temp
SQLite file with production's settings, or `--database-url postgres://...` (created and dropped).
`--profile` prints cProfile's top functions for the batches of 100.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.sync import setup_django  # noqa: E402 - the repo on the path


def run(*, rounds: int, profile: bool, group: int) -> None:
    from chat.models import User
    from chat.services.chats import chat_direct_get_or_create
    from chat.services.groups import group_create
    from chat.services.messages import NewMessage
    from chat.sockets.message_batch import message_writer

    store = message_writer._store.func  # the sync function the group commit runs in the ORM's thread
    users = User.objects.bulk_create([User(name=f"w{i}") for i in range(max(200, group))])
    chats = [chat_direct_get_or_create(user=users[2 * k], other=users[2 * k + 1])[0] for k in range(100)]
    fan_out = None
    if group:
        fan_out = group_create(creator=users[0], name="fan-out", member_ids=[u.pk for u in users[1:group]])
    senders = [users[2 * k] for k in range(100)]
    counter = iter(range(10**9))

    def batch(size: int) -> tuple:
        return tuple(
            NewMessage(
                sender=senders[k],
                chat_id=chats[k].pk,
                message_type=0,
                text=f"hello {next(counter)}",
                client_message_id=str(uuid.uuid4()),
                viewing_user_ids=frozenset(),
            )
            for k in range(size)
        )

    for _ in range(20):
        store(batch(50))  # warm: statement caches, the first pages
    for size in (1, 10, 50, 100):
        times, cpu = [], []
        profiler = cProfile.Profile() if profile and size == 100 else None
        for _ in range(max(10, rounds // size)):
            requests = batch(size)
            if profiler:
                profiler.enable()
            started, started_cpu = time.perf_counter(), time.thread_time()
            results = store(requests)
            times.append(time.perf_counter() - started)
            cpu.append(time.thread_time() - started_cpu)
            if profiler:
                profiler.disable()
            assert all(isinstance(r, tuple) for r in results), results
        median = statistics.median(times)
        print(
            f"batch of {size:3d}: {median * 1e6 / size:7.1f} µs per message,"
            f" {median * 1e3:6.2f} ms per batch, {statistics.median(cpu) * 1e3:6.2f} ms of this thread's CPU"
            f" (medians of {len(times)})"
        )
        if profiler:
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)
    if fan_out is None:
        return
    times, cpu = [], []
    profiler = cProfile.Profile() if profile else None
    for n in range(max(50, rounds // 10)):
        request = NewMessage(sender=users[n % group], chat_id=fan_out.pk, message_type=0, text=f"to all {n}",
                             client_message_id=str(uuid.uuid4()), viewing_user_ids=frozenset())  # fmt: skip
        if profiler:
            profiler.enable()
        started, started_cpu = time.perf_counter(), time.thread_time()
        results = store((request,))
        times.append(time.perf_counter() - started)
        cpu.append(time.thread_time() - started_cpu)
        if profiler:
            profiler.disable()
        assert isinstance(results[0], tuple), results
    print(
        f"a lone message to {group} members: {statistics.median(times) * 1e6:7.1f} µs,"
        f" {statistics.median(cpu) * 1e6:7.1f} µs of this thread's CPU (medians of {len(times)})"
    )
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(40)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=None, help="postgres://...; default: a temp SQLite file")
    parser.add_argument("--rounds", type=int, default=3000, help="messages per batch size")
    parser.add_argument("--group", type=int, default=100, help="members of the fan-out group (0: none)")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    if args.database_url:
        import psycopg

        name = f"bench_write_{uuid.uuid4().hex[:8]}"
        base = args.database_url.rsplit("/", 1)[0]
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            setup_django(f"{base}/{name}")
            run(rounds=args.rounds, profile=args.profile, group=args.group)
        finally:
            from django.db import connections

            connections.close_all()
            with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        with tempfile.TemporaryDirectory() as tmp:
            setup_django(f"sqlite:///{tmp}/write_path.sqlite3")
            run(rounds=args.rounds, profile=args.profile, group=args.group)


if __name__ == "__main__":
    main()
