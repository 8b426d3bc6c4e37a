"""Group membership changes over REST reach live sockets: onMemberJoin on additions, and a removed
member's sockets leave the room and hear nothing more from it."""

from __future__ import annotations

import httpx
import pytest

from chat.events import chat_room
from chat.sockets.server import sio
from chat.tokens import issue_token
from tests.conftest import barrier
from tests.sockets.presence_support import state_until

pytestmark = pytest.mark.django_db(transaction=True)


async def rest(server, user, method: str, path: str, json=None):
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        response = await http.request(
            method, path, json=json, headers={"Authorization": f"Bearer {issue_token(user.pk)}"}
        )
    return response


async def test_additions_announce_and_removals_silence(chat_server, clients, make_user):
    alice, bob, carol, dave = (make_user(n) for n in ("Alice", "Bob", "Carol", "Dave"))
    created = await rest(
        chat_server, alice, "POST", "/api/chat/groups", {"name": "Team", "memberIds": [str(bob.pk), str(carol.pk)]}
    )
    assert created.status_code == 201, created.text
    gid = created.json()["data"]["id"]

    a, b, b2, c = await clients(alice), await clients(bob), await clients(bob), await clients(carol)
    for client in (a, b, b2, c):
        ack = await client.call("joinRoom", {"chatHeaderId": gid})
        assert ack.get("joined") is True, ack
    await barrier(a, b, b2, c)
    for client in (a, b, b2, c):
        client.clear()

    added = await rest(chat_server, alice, "POST", f"/api/chat/groups/{gid}/members", {"userIds": [str(dave.pk)]})
    assert added.status_code == 200, added.text
    joined = await c.wait_for("onMemberJoin")
    assert joined == {
        "userId": str(dave.pk),
        "name": "Dave",
        "avatar": None,
        "isOnline": False,
        "isViewingChat": False,
        "lastReadMessageId": None,
        "isAdmin": False,
        "lastDeliveredMessageId": None,
        "lastSeen": None,
        "chatHeaderId": gid,
    }

    removed = await rest(chat_server, alice, "DELETE", f"/api/chat/groups/{gid}/members/{bob.pk}")
    assert removed.status_code == 200, removed.text

    async def bob_has_left() -> bool:
        # His sockets leave the room after the commit, on the server's loop: no event tells when.
        return all(chat_room(gid) not in sio.rooms(client.sio.get_sid()) for client in (b, b2))

    await state_until(bob_has_left)
    sent = await a.call("createMessage", {"chatHeaderId": gid, "message": "after Bob left", "messageType": 0})
    assert "chatMessage" in sent, sent
    assert (await c.wait_for("message"))["chatMessage"]["message"] == "after Bob left"
    await barrier(b, b2)
    assert b.events["message"] == [] and b2.events["message"] == []
    # And Bob can no longer act in it.
    refused = await b.call("createMessage", {"chatHeaderId": gid, "message": "still here?", "messageType": 0})
    assert refused.get("code") == "forbidden"
