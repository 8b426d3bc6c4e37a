"""Reconnect without losing anything (CONTRACT §9): a client disconnects; while it is away others send,
edit and delete, read and deliver, remove it from one group and add it to another. It reconnects on the
other worker (two workers, one PostgreSQL, one Redis), calls `sync` until `hasMore` is false, and then
holds exactly the state a client that never disconnected holds: the state the server shows a fresh
client, and what the user's other socket, connected all along, heard live.
"""

from __future__ import annotations

import pytest

from tests.conftest import Client, ensure_redis
from tests.scaleout.test_two_workers import User, hears, rest
from tests.scaleout.workers import two_workers

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.timeout(120)]


@pytest.fixture(scope="module")
def workers():
    with two_workers(
        "feed",
        ensure_redis(),
        CHAT_RATE_LIMIT="0",
        CHAT_RATE_LIMIT_READS="0",
        CHAT_RATE_LIMIT_EDITS="0",
        PUSH_BACKEND="notifications.backends.locmem.PushBackend",
    ) as started:
        yield started


class ClientState:
    """What an app keeps: its chats, each with its members' marks and its visible messages."""

    def __init__(self, me: str) -> None:
        self.me = me
        self.chats: dict[int, dict] = {}

    async def load(self, client: Client) -> None:
        """From scratch, as an app's first start: the chat list, then each chat's history."""
        self.chats = {}
        headers = await client.call("findAllChatHeaders", {"MaxResultCount": 100})
        for header in headers["items"]:
            self.add_chat(header)
            page = await client.call("findAllMessages", {"chatHeaderId": header["id"], "maxResultCount": 100})
            for message in page["items"]:
                self.put_message(message)

    def add_chat(self, header: dict) -> None:
        marks = {m["userId"]: (m["lastReadMessageId"], m["lastDeliveredMessageId"]) for m in header["members"]}
        self.chats.setdefault(header["id"], {"messages": {}, "marks": {}})["marks"] = marks

    def put_message(self, message: dict) -> None:
        chat = self.chats.get(message["chatHeaderId"])
        if chat is not None:
            chat["messages"][message["id"]] = (message["message"], message["isEdited"])

    def apply(self, change: dict) -> None:
        """One change of `sync`, as the README's reconnect example applies it."""
        kind, chat_id, data = change["type"], change["chatHeaderId"], change["data"]
        chat = self.chats.get(chat_id)
        if kind == "chat.created":
            self.add_chat(data)
        elif kind in ("message.created", "message.updated"):
            self.put_message(data)
        elif kind == "message.deleted" and chat is not None:
            chat["messages"].pop(data["messageId"], None)
        elif kind == "chat.read" and chat is not None:
            _, delivered = chat["marks"].get(data["userId"], (None, None))
            chat["marks"][data["userId"]] = (data["lastReadMessageId"], delivered)
        elif kind == "chat.delivered" and chat is not None:
            read, _ = chat["marks"].get(data["userId"], (None, None))
            chat["marks"][data["userId"]] = (read, data["lastDeliveredMessageId"])
        elif kind == "member.joined" and chat is not None:
            chat["marks"][data["userId"]] = (data["lastReadMessageId"], data["lastDeliveredMessageId"])
        elif kind == "member.left":
            if data["userId"] == self.me:
                self.chats.pop(chat_id, None)
            elif chat is not None:
                chat["marks"].pop(data["userId"], None)

    async def sync(self, client: Client, since: int) -> tuple[int, int]:
        """`sync` from `since` until `hasMore` is false; (the new cursor, how many pages)."""
        pages = 0
        while True:
            page = await client.call("sync", {"since": since, "limit": 5})
            pages += 1
            for change in page["changes"]:
                self.apply(change)
            since = page["cursor"]
            if not page["hasMore"]:
                return since, pages


def _send(client: Client, chat_id: int, text: str):
    return client.call("createMessage", {"chatHeaderId": chat_id, "message": text, "messageType": 0})


async def test_a_client_that_reconnects_on_another_worker_rebuilds_exactly_the_state_it_missed(workers):
    alice, bob, carol = User("Alice"), User("Bob"), User("Carol")
    made: list[Client] = []

    async def connect(user: User, index: int) -> Client:
        client = Client(workers[index].url)
        made.append(client)
        return await client.connect(user_id=user.id, token=user.token)

    try:
        away, live, b, c = (
            await connect(alice, 0),
            await connect(alice, 1),
            await connect(bob, 1),
            await connect(carol, 0),
        )
        direct = (await b.call("joinRoom", {"otherUserId": alice.id}))["chatHeaderId"]
        status, body = await rest(
            workers[0], "POST", "/api/chat/groups", bob, {"name": "G1", "memberIds": [alice.id, carol.id]}
        )
        assert status == 201
        group = body["data"]["id"]
        for client, chat_id in ((live, direct), (live, group), (b, group), (c, group)):
            await client.call("joinRoom", {"chatHeaderId": chat_id})
        await _send(b, direct, "before")

        # The app's first start: cursor first (changes after it are applied again, harmlessly), then lists.
        state = ClientState(alice.id)
        cursor = (await away.call("sync", {"since": None}))["cursor"]
        await state.load(away)
        await away.disconnect()

        # While it is away, on both workers.
        first = (await _send(b, direct, "first"))["chatMessage"]
        second = (await _send(b, direct, "second"))["chatMessage"]
        await b.call("updateMessage", {"id": first["id"], "chatHeaderId": direct, "message": "first, edited"})
        await b.call("removeMessage", {"id": second["id"], "chatHeaderId": direct})
        in_group = (await _send(c, group, "hello group"))["chatMessage"]
        await b.call("readMessage", {"chatHeaderId": group})
        await c.call("markDelivered", {"chatHeaderId": group, "lastMessageId": in_group["id"]})
        await live.call("readMessage", {"chatHeaderId": direct})  # her other device reads
        await live.call("markDelivered", {"chatHeaderId": group, "lastMessageId": in_group["id"]})
        await hears(live, "messageUpdated", what="the edit, live")
        await hears(live, "messageDeleted", what="the delete, live")
        status, _ = await rest(workers[1], "DELETE", f"/api/chat/groups/{group}/members/{alice.id}", bob)
        assert status == 200
        await _send(c, group, "after alice left")
        status, body = await rest(workers[0], "POST", "/api/chat/groups", bob, {"name": "G2", "memberIds": [carol.id]})
        second_group = body["data"]["id"]
        status, _ = await rest(
            workers[1], "POST", f"/api/chat/groups/{second_group}/members", bob, {"userIds": [alice.id]}
        )
        assert status == 200
        await c.call("joinRoom", {"chatHeaderId": second_group})
        await _send(c, second_group, "welcome")
        await _send(b, direct, "last")

        # Back, on the other worker.
        back = await connect(alice, 1)
        new_cursor, pages = await state.sync(back, cursor)
        assert pages > 1  # it paged, with hasMore
        assert (await back.call("sync", {"since": new_cursor})) == {
            "changes": [],
            "cursor": new_cursor,
            "hasMore": False,
        }

        truth = ClientState(alice.id)
        await truth.load(back)
        assert set(state.chats) == set(truth.chats) == {direct, second_group}
        assert state.chats == truth.chats
        assert state.chats[direct]["messages"][first["id"]] == ("first, edited", True)
        assert second["id"] not in state.chats[direct]["messages"]
        assert state.chats[direct]["marks"][alice.id][0] is not None  # her other device's read

        # The socket connected all along heard the same for the chat it stayed in.
        heard = ClientState(alice.id)
        heard.chats = {direct: {"messages": {}, "marks": {}}}
        for payload in live.events["message"]:
            heard.put_message(payload["chatMessage"])
        for payload in live.events["messageUpdated"]:
            heard.put_message(payload)
        for message_id in live.events["messageDeleted"]:
            heard.chats[direct]["messages"].pop(message_id, None)
        assert heard.chats[direct]["messages"] == state.chats[direct]["messages"]
    finally:
        for client in made:
            await client.disconnect()
