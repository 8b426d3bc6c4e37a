"""CONTRACT §11 over REST: blocks in getChatHeaderAsync and the group endpoints, and the new-chat limit.

Across a block, no new one-to-one chat (403 `blocked`, nothing created), and presence is hidden in
every ChatHeaderDto; additions to a group are not announced across a block. Only the calls that create
a chat count against CHAT_RATE_LIMIT_NEW_CHATS (429 `rate_limited`, nothing created).
"""

from __future__ import annotations

import uuid

import httpx
import pytest

from chat.models import ChatHeader, ChatMember, FriendshipStatus, User
from chat.services.chats import chat_direct_get_or_create
from chat.tokens import issue_token
from tests.api.helpers import error, ok
from tests.conftest import barrier, run_sync
from tests.sockets.rooms_support import befriend

URL = "/api/chat/getChatHeaderAsync"


def get(client, a, b):
    return client.get(URL, {"user1Id": str(a.pk), "user2Id": str(b.pk)})


def member(header: dict, user) -> dict:
    return next(m for m in header["members"] if m["userId"] == str(user.pk))


@pytest.mark.django_db
@pytest.mark.parametrize("who_blocked", ["caller", "other"])
def test_no_new_chat_across_a_block(api, make_user, who_blocked):
    alice, bob = make_user("Alice"), make_user("Bob")
    if who_blocked == "caller":
        befriend(alice, bob, FriendshipStatus.BLOCKED)
    else:
        befriend(bob, alice, FriendshipStatus.BLOCKED)
    error(get(api(alice), alice, bob), 403, "blocked")
    error(get(api(bob), bob, alice), 403, "blocked")
    assert ChatHeader.objects.count() == 0 and ChatMember.objects.count() == 0


@pytest.mark.django_db
def test_a_chat_they_had_is_still_answered(api, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    chat, _ = chat_direct_get_or_create(user=alice, other=bob)
    befriend(bob, alice, FriendshipStatus.BLOCKED)
    assert ok(get(api(alice), alice, bob))["id"] == chat.pk
    assert ChatHeader.objects.count() == 1


@pytest.mark.django_db
def test_only_chat_creations_count_as_new_chats(api, make_user, settings):
    settings.CHAT_RATE_LIMIT_NEW_CHATS = "2/1min"
    alice, bob, carol, dave = (make_user(n) for n in ("Alice", "Bob", "Carol", "Dave"))
    client = api(alice)
    first = ok(get(client, alice, bob))["id"]
    for _ in range(3):
        assert ok(get(client, bob, alice))["id"] == first  # getting it again creates nothing
    ok(client.post("/api/chat/groups", {"name": "G", "memberIds": [str(bob.pk)]}, format="json"), 201)
    before = ChatHeader.objects.count()
    error(get(client, alice, carol), 429, "rate_limited")
    error(
        client.post("/api/chat/groups", {"name": "H", "memberIds": [str(dave.pk)]}, format="json"), 429, "rate_limited"
    )
    assert ChatHeader.objects.count() == before == 2
    # The budget is the caller's.
    assert ok(get(api(carol), carol, alice))["chatType"] == 0


@pytest.mark.django_db
def test_a_refused_group_leaves_no_placeholder_users_behind(api, make_user, settings):
    settings.CHAT_RATE_LIMIT_NEW_CHATS = "1/1min"
    alice, bob = make_user("Alice"), make_user("Bob")
    ok(api(alice).post("/api/chat/groups", {"name": "G", "memberIds": [str(bob.pk)]}, format="json"), 201)
    users = User.objects.count()
    body = {"name": "H", "memberIds": [str(uuid.uuid4()), str(uuid.uuid4())]}
    error(api(alice).post("/api/chat/groups", body, format="json"), 429, "rate_limited")
    assert User.objects.count() == users and ChatHeader.objects.count() == 1


# --- presence, through a live server with real sockets --------------------------------------------


async def rest(server, user, method: str, path: str, **kwargs) -> httpx.Response:
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
        return await http.request(method, path, headers={"Authorization": f"Bearer {issue_token(user.pk)}"}, **kwargs)


def data(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()["data"]


@pytest.mark.django_db(transaction=True)
async def test_chat_header_hides_presence_across_a_block(chat_server, clients, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    chat, _ = run_sync(chat_direct_get_or_create, user=alice, other=bob)
    b = await clients(bob)
    await b.call("joinRoom", {"chatHeaderId": chat.pk})
    params = {"user1Id": str(alice.pk), "user2Id": str(bob.pk)}
    seen = member(data(await rest(chat_server, alice, "GET", URL, params=params)), bob)
    assert (seen["isOnline"], seen["isViewingChat"]) == (True, True)  # as it is, without a block
    befriend(alice, bob, FriendshipStatus.BLOCKED)
    seen = member(data(await rest(chat_server, alice, "GET", URL, params=params)), bob)
    assert (seen["isOnline"], seen["isViewingChat"]) == (False, False)


@pytest.mark.django_db(transaction=True)
async def test_group_endpoints_hide_presence_and_additions_across_a_block(chat_server, clients, make_user):
    alice, bob, carol, dave = (make_user(n) for n in ("Alice", "Bob", "Carol", "Dave"))
    created = data(
        await rest(
            chat_server,
            carol,
            "POST",
            "/api/chat/groups",
            json={"name": "G", "memberIds": [str(alice.pk), str(bob.pk)]},
        ),
        201,
    )
    gid = created["id"]
    befriend(alice, bob, FriendshipStatus.BLOCKED)
    befriend(dave, bob, FriendshipStatus.BLOCKED)
    a, b = await clients(alice), await clients(bob)
    for client in (a, b):
        assert (await client.call("joinRoom", {"chatHeaderId": gid}))["joined"] is True
    await barrier(a, b)
    a.clear()
    b.clear()

    # Carol adds Dave: Alice hears it; Bob, on the other side of a block from Dave, does not.
    added = data(
        await rest(chat_server, carol, "POST", f"/api/chat/groups/{gid}/members", json={"userIds": [str(dave.pk)]})
    )
    assert member(added, bob)["isOnline"] is True  # Carol sees everyone as they are
    (joined,) = await a.received("onMemberJoin")
    assert joined["userId"] == str(dave.pk) and joined["chatHeaderId"] == gid
    await b.barrier()
    assert b.events["onMemberJoin"] == []

    # Alice, who blocked Bob, never sees him online in a group answer.
    # A second admin: no service makes one (only the last admin's leaving passes the role on).
    run_sync(lambda: ChatMember.objects.filter(chat_id=gid, user=alice).update(is_admin=True))
    members_url = f"/api/chat/groups/{gid}/members"
    seen = data(await rest(chat_server, alice, "POST", members_url, json={"userIds": [str(carol.pk)]}))  # no-op
    assert (member(seen, bob)["isOnline"], member(seen, bob)["isViewingChat"]) == (False, False)
    assert member(seen, alice)["isOnline"] is True
    seen = data(await rest(chat_server, alice, "DELETE", f"{members_url}/{dave.pk}"))
    assert (member(seen, bob)["isOnline"], member(seen, bob)["isViewingChat"]) == (False, False)
