"""SIGTERM under closed-loop traffic (issue 14, row 1).

Senders each keep one createMessage in flight (closed loop) to a recipient who is offline and has a
device. PostgreSQL is frozen for a moment so that messages are certainly in flight (stuck in group
commit) when the server gets SIGTERM; then it thaws. A graceful stop takes no new events (an event sent
after SIGTERM is answered `server_error` at once, and not stored), lets those running finish and sends
their acks, then closes the sockets and exits. So every stored message was acknowledged to its sender,
and every acknowledged one is stored. The stopped server's pushes were left in the outbox (its delivery
loop is off here, as when the push worker runs elsewhere): the server started after it sends one for
every acknowledged message.
"""

from __future__ import annotations

import asyncio
import json
import signal
import time

import pytest

from tests.faults.conftest import User, rest, text_message
from tests.faults.harness import start_server

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(120)]


async def closed_loop(client, chat_id: int, name: str, acked: dict, refused: set, stop: asyncio.Event) -> None:
    """createMessage after createMessage, each once the previous one was answered, until the socket
    closes; `acked` gets clientMessageId -> message id, `refused` the ids answered with an error."""
    n = 0
    while not stop.is_set() and client.sio.connected:
        cid = f"{name}-{n}"
        n += 1
        try:
            ack = await client.call("createMessage", text_message(chat_id, f"message {cid}", cid), timeout=20)
        except Exception:  # noqa: BLE001 - the socket closed: no answer is no ack
            return
        if "chatMessage" in ack:
            acked[cid] = ack["chatMessage"]["id"]
        else:
            assert ack["code"] == "server_error", ack
            refused.add(cid)
            return  # the server is stopping: a client would reconnect elsewhere now


async def test_sigterm_answers_every_message_in_flight_and_the_pushes_survive(pg_env, pg_cluster, work_dir, connect):
    env = {**pg_env, "PUSH_WORKER_IN_PROCESS": "false", "CHAT_SHUTDOWN_GRACE_SECONDS": "10"}
    server = start_server(env, work_dir / "stopping.log")
    try:
        dora = User("Dora")
        status, body = await rest(server.url, "POST", "/api/notifications/devices", dora,
                                  {"token": "dora-phone", "platform": "android"})  # fmt: skip
        assert status in (200, 201), body
        senders = [User(f"Sender {i}") for i in range(4)]
        clients, chats = [], []
        for sender in senders:
            client = await connect(server.url, sender)
            chats.append((await client.call("joinRoom", {"otherUserId": dora.id}))["chatHeaderId"])
            clients.append(client)
        late = await connect(server.url, User("Late"))
        late_chat = (await late.call("joinRoom", {"otherUserId": dora.id}))["chatHeaderId"]

        acked: dict[str, int] = {}
        refused: set[str] = set()
        stop = asyncio.Event()
        loops = [
            asyncio.create_task(closed_loop(client, chat_id, f"s{i}", acked, refused, stop))
            for i, (client, chat_id) in enumerate(zip(clients, chats, strict=True))
        ]
        await asyncio.sleep(1.0)  # traffic flows
        assert acked, "no message was acknowledged before the stop"
        pg_cluster.freeze()
        try:
            await asyncio.sleep(0.5)  # each sender now has a message stuck in flight
            in_flight_from = len(acked)
            server.proc.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.5)
            # No new events once stopping: answered at once, nothing stored.
            started = time.monotonic()
            answer = await late.call("createMessage", text_message(late_chat, "after SIGTERM", "late-0"))
            assert answer.get("code") == "server_error", answer
            assert time.monotonic() - started < 1
            assert server.proc.poll() is None, "the server exited with messages in flight"
        finally:
            pg_cluster.thaw()
        server.proc.wait(timeout=20)
        stop.set()
        await asyncio.gather(*loops)
        assert len(acked) > in_flight_from, "the messages in flight at SIGTERM were never acknowledged"
    finally:
        server.stop()

    stored = dict(pg_cluster.query(
        env["FAULTS_DB_NAME"], "SELECT client_message_id, id FROM chat_chatmessage WHERE client_message_id IS NOT NULL"
    ))  # fmt: skip
    assert "late-0" not in stored
    assert stored == acked, (
        f"stored but never acknowledged: {sorted(set(stored) - set(acked))}; "
        f"acknowledged but not stored: {sorted(set(acked) - set(stored))}"
    )

    # The next server sends the pushes the stopped one left in the outbox.
    restarted = start_server({**env, "PUSH_WORKER_IN_PROCESS": "true"}, work_dir / "restarted.log")
    try:
        pushes_file = work_dir / "pushes.jsonl"
        wanted = {str(message_id) for message_id in acked.values()}
        deadline = time.monotonic() + 15
        pushed: set[str] = set()
        while time.monotonic() < deadline and not wanted <= pushed:
            await asyncio.sleep(0.3)
            if pushes_file.exists():
                lines = [json.loads(line) for line in pushes_file.read_text().splitlines() if line.strip()]
                pushed = {line["data"].get("messageId") for line in lines if line["userId"] == dora.id}
        assert wanted <= pushed, f"no push for {len(wanted - pushed)} acknowledged message(s)"
    finally:
        restarted.stop()
