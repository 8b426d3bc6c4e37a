"""PostgreSQL stopped, and PostgreSQL hung (issue 14, rows 2 and 3), under a real server process.

Stopped (connections refused): every event answers `server_error` at once, `/healthz` says 503, and
the server recovers by itself once PostgreSQL is back. Hung (its processes frozen with SIGSTOP, as a
network partition looks to the server: connections stay open and nothing answers): every event still
answers `server_error` within 5 s, however many are waiting on the ORM's one thread, and so do new
connections and `/healthz`; after SIGCONT the server recovers by itself, nothing acknowledged is lost,
and a message answered `server_error` whose transaction committed after all is stored once when the
client sends it again with its `clientMessageId`.
"""

from __future__ import annotations

import asyncio
import time

import pytest
import socketio

from tests.conftest import Client
from tests.faults.conftest import User, rest, text_message
from tests.faults.harness import start_server

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]

ANSWER_WITHIN = 5.0


@pytest.fixture(scope="module")
def server(pg_env, work_dir):
    process = start_server(pg_env, work_dir / "server.log")
    yield process
    process.stop()


async def timed(coroutine) -> tuple[float, object]:
    started = time.monotonic()
    try:
        result = await coroutine
    except Exception as exc:  # noqa: BLE001 - the test looks at what came back
        result = exc
    return time.monotonic() - started, result


async def healthz(url: str) -> tuple[float, int]:
    elapsed, result = await timed(rest(url, "GET", "/healthz", timeout=ANSWER_WITHIN + 5))
    return elapsed, (result[0] if isinstance(result, tuple) else -1)


async def until_sent(client: Client, payload: dict, seconds: float = 10) -> dict:
    """createMessage again and again until it is stored (the database is back); its ack."""
    deadline = time.monotonic() + seconds
    while True:
        ack = await client.call("createMessage", payload, timeout=ANSWER_WITHIN + 5)
        if "chatMessage" in ack or time.monotonic() > deadline:
            return ack
        await asyncio.sleep(0.2)


async def history(client: Client, chat_id: int) -> list[dict]:
    page = await client.call("findAllMessages", {"chatHeaderId": chat_id, "MaxResultCount": 100})
    return page["items"]


async def test_a_stopped_database_answers_at_once_and_the_server_recovers_by_itself(server, pg_cluster, connect):
    alice, bob = User("Alice"), User("Bob")
    a = await connect(server.url, alice)
    chat_id = (await a.call("joinRoom", {"otherUserId": bob.id}))["chatHeaderId"]
    assert "chatMessage" in await a.call("createMessage", text_message(chat_id, "before"))

    pg_cluster.stop("fast")
    try:
        for event, payload in [
            ("createMessage", text_message(chat_id, "while stopped")),
            ("findAllMessages", {"chatHeaderId": chat_id}),
            ("getMyChats", {}),
        ]:
            elapsed, ack = await timed(a.call(event, payload))
            assert isinstance(ack, dict) and ack.get("code") == "server_error", (event, ack)
            assert elapsed < 1.0, f"{event} took {elapsed:.2f} s to answer with PostgreSQL stopped"
        elapsed, status = await healthz(server.url)
        assert status == 503 and elapsed < 1.0, (status, elapsed)
    finally:
        pg_cluster.start()

    started = time.monotonic()
    ack = await until_sent(a, text_message(chat_id, "after"))
    assert "chatMessage" in ack, ack
    assert time.monotonic() - started < 5, "the server took over 5 s to recover after PostgreSQL came back"
    assert (await healthz(server.url))[1] == 200
    assert [m["message"] for m in await history(a, chat_id)] == ["after", "before"]


async def test_a_hung_database_answers_every_event_in_time_and_loses_or_doubles_nothing(server, pg_cluster, connect):
    alice, bob, carol = User("Alice"), User("Bob"), User("Carol")
    a = await connect(server.url, alice)
    b = await connect(server.url, bob)
    chat_id = (await a.call("joinRoom", {"otherUserId": bob.id}))["chatHeaderId"]
    assert (await b.call("joinRoom", {"chatHeaderId": chat_id}))["joined"] is True
    acked_before = (await a.call("createMessage", text_message(chat_id, "acknowledged before", "m0")))["chatMessage"]

    pg_cluster.freeze()
    try:
        # Several events at once: one of them gets the ORM's thread and is stuck there, the others wait
        # behind it; each must answer by itself, in time.
        for round_ in range(2):
            calls = [
                a.call("createMessage", text_message(chat_id, f"frozen a{round_}", f"a{round_}"), timeout=30),
                b.call("createMessage", text_message(chat_id, f"frozen b{round_}", f"b{round_}"), timeout=30),
                a.call("findAllMessages", {"chatHeaderId": chat_id}, timeout=30),
                b.call("getMyChats", {}, timeout=30),
                b.call("readMessage", {"chatHeaderId": chat_id}, timeout=30),
            ]
            answers = await asyncio.gather(*(timed(call) for call in calls), healthz(server.url))
            *events, (health_elapsed, health_status) = answers
            for elapsed, ack in events:
                assert isinstance(ack, dict) and ack.get("code") == "server_error", ack
                assert elapsed < ANSWER_WITHIN, f"an event took {elapsed:.2f} s to answer with PostgreSQL hung"
            assert health_status == 503 and health_elapsed < ANSWER_WITHIN, (health_status, health_elapsed)

        # A new connection is answered too (refused, with the reason), not left waiting.
        newcomer = Client(server.url)
        elapsed, result = await timed(newcomer.connect(user_id=carol.id, token=carol.token))
        assert isinstance(result, socketio.exceptions.ConnectionError), (result, elapsed, pg_cluster.pids())
        assert elapsed < ANSWER_WITHIN, f"a new connection took {elapsed:.2f} s to be answered"
    finally:
        pg_cluster.thaw()

    # Recovers by itself; the messages answered server_error are sent again with their ids: each stored once.
    started = time.monotonic()
    retried = {}
    for cid, client in [("a0", a), ("b0", b), ("a1", a), ("b1", b)]:
        ack = await until_sent(client, text_message(chat_id, f"frozen {cid}", cid))
        assert "chatMessage" in ack, ack
        retried[cid] = ack["chatMessage"]["id"]
    assert time.monotonic() - started < 10
    assert (await healthz(server.url))[1] == 200
    c = await connect(server.url, carol)
    assert await c.call("getMyChats", {}) == []

    stored = await history(a, chat_id)
    by_client_id: dict[str, list[int]] = {}
    for message in stored:
        by_client_id.setdefault(message["clientMessageId"], []).append(message["id"])
    assert by_client_id == {"m0": [acked_before["id"]], **{cid: [mid] for cid, mid in retried.items()}}
