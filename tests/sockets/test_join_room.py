"""joinRoom (CONTRACT §4) and onMemberJoin (§5), over a live server with real clients."""

import threading
import uuid

import pytest
from django.db import connection

from chat.events import chat_room
from chat.models import ChatHeader, ChatMember, FriendshipStatus
from chat.services import rooms
from chat.sockets.server import sio
from chat.state.store import get_state
from chat.tokens import issue_token
from tests.conftest import barrier, run_sync
from tests.sockets.rooms_support import (
    HEADER_KEYS,
    MEMBER_KEYS,
    befriend,
    direct_chat,
    group_chat,
)

pytestmark = pytest.mark.django_db(transaction=True)

ACK_KEYS = {"chatHeaderId", "joined", "roomMembers", "members", "currentMember", "friendshipStatus", "chatHeader"}


def chat_count() -> int:
    return run_sync(ChatHeader.objects.count)


async def test_join_by_chat_id_answers_the_full_ack(clients, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    befriend(alice, bob)
    chat_id = direct_chat(alice, bob)
    a = await clients(alice)
    ack = await a.call("joinRoom", {"chatHeaderId": chat_id, "userId": str(alice.pk), "socketId": a.sio.get_sid()})
    assert set(ack) == ACK_KEYS
    assert ack["chatHeaderId"] == chat_id and ack["joined"] is True
    assert ack["members"] == ack["roomMembers"]
    assert {m["userId"] for m in ack["members"]} == {str(alice.pk), str(bob.pk)}
    for member in ack["members"]:
        assert set(member) == MEMBER_KEYS
    assert ack["currentMember"] == {
        "userId": str(alice.pk),
        "name": "Alice",
        "avatar": None,
        "isOnline": True,
        "isViewingChat": True,
        "lastReadMessageId": None,
        "isAdmin": False,
        "lastDeliveredMessageId": None,
        "lastSeen": None,
    }
    bob_member = next(m for m in ack["members"] if m["userId"] == str(bob.pk))
    assert bob_member["isOnline"] is False and bob_member["isViewingChat"] is False
    assert ack["friendshipStatus"] == FriendshipStatus.ACCEPTED
    assert set(ack["chatHeader"]) == HEADER_KEYS
    assert ack["chatHeader"]["id"] == chat_id and ack["chatHeader"]["chatType"] == 0
    assert ack["chatHeader"]["name"] == "Bob"  # a one-to-one chat is named after the other user
    assert await get_state().presence.viewing_user_ids(chat_id) == {str(alice.pk)}
    assert chat_room(chat_id) in sio.rooms(a.sio.get_sid())


async def test_join_by_other_user_creates_the_chat_once(clients, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    a, b = await clients(alice), await clients(bob)
    first = await a.call("joinRoom", {"otherUserId": str(bob.pk)})
    assert set(first) == ACK_KEYS
    chat_id = first["chatHeaderId"]
    assert isinstance(chat_id, int) and first["chatHeader"]["id"] == chat_id
    assert first["friendshipStatus"] is None  # no friendship at all
    again = await a.call("joinRoom", {"otherUserId": str(bob.pk).upper()})
    from_bob = await b.call("joinRoom", {"otherUserId": str(alice.pk)})
    assert again["chatHeaderId"] == from_bob["chatHeaderId"] == chat_id
    assert chat_count() == 1
    assert run_sync(lambda: set(ChatMember.objects.filter(chat_id=chat_id).values_list("user_id", flat=True))) == {
        alice.pk,
        bob.pk,
    }
    assert await get_state().presence.viewing_user_ids(chat_id) == {str(alice.pk), str(bob.pk)}


@pytest.mark.parametrize(
    ("status", "expected"),
    [(FriendshipStatus.PENDING, 0), (FriendshipStatus.REJECTED, 2), (FriendshipStatus.BLOCKED, 3)],
)
async def test_friendship_status_of_a_one_to_one_chat(clients, make_user, status, expected):
    alice, bob = make_user("Alice"), make_user("Bob")
    direct_chat(alice, bob)  # a blocked pair cannot start a chat, but one they had stays joinable
    befriend(alice, bob, status)
    a = await clients(alice)
    ack = await a.call("joinRoom", {"otherUserId": str(bob.pk)})
    assert ack["friendshipStatus"] == expected


async def test_group_join_has_no_friendship_status(clients, make_user):
    alice, bob, carol = make_user("Alice"), make_user("Bob"), make_user("Carol")
    befriend(alice, bob)
    chat_id = group_chat(alice, bob, carol, name="Trip")
    b = await clients(bob)
    ack = await b.call("joinRoom", {"chatHeaderId": str(chat_id)})  # the spec sends some ids as strings
    assert ack["friendshipStatus"] is None
    assert ack["chatHeader"]["chatType"] == 1 and ack["chatHeader"]["name"] == "Trip"
    assert len(ack["members"]) == 3
    admins = {m["userId"] for m in ack["members"] if m["isAdmin"]}
    assert admins == {str(alice.pk)}
    assert ack["currentMember"]["userId"] == str(bob.pk) and ack["currentMember"]["isViewingChat"] is True


async def test_on_member_join_reaches_the_rooms_other_sockets_only(clients, make_user):
    alice, bob, carol, dave = make_user("Alice"), make_user("Bob"), make_user("Carol"), make_user("Dave")
    chat_id = group_chat(alice, bob, carol)
    bob_in_room = await clients(bob)
    await bob_in_room.call("joinRoom", {"chatHeaderId": chat_id})
    alice_other_tab = await clients(alice)
    await alice_other_tab.call("joinRoom", {"chatHeaderId": chat_id})
    carol_not_in_room = await clients(carol)
    stranger = await clients(dave)
    bob_in_room.events.clear()
    joiner = await clients(alice)
    ack = await joiner.call("joinRoom", {"chatHeaderId": chat_id})

    (event,) = await bob_in_room.received("onMemberJoin")
    assert event == {**ack["currentMember"], "chatHeaderId": chat_id}
    # The room's other sockets include the joiner's own other tab; never the joining socket itself.
    assert await alice_other_tab.received("onMemberJoin") == [event]
    await barrier(joiner, carol_not_in_room, stranger)
    assert joiner.events["onMemberJoin"] == []
    assert carol_not_in_room.events["onMemberJoin"] == []
    assert stranger.events["onMemberJoin"] == []


async def test_not_a_member_is_forbidden_whether_or_not_the_chat_exists(clients, make_user):
    alice, bob, carol = make_user("Alice"), make_user("Bob"), make_user("Carol")
    chat_id = direct_chat(bob, carol)
    b = await clients(bob)
    await b.call("joinRoom", {"chatHeaderId": chat_id})
    a = await clients(alice)
    existing = await a.call("joinRoom", {"chatHeaderId": chat_id})
    missing = await a.call("joinRoom", {"chatHeaderId": chat_id + 1000})
    assert existing["code"] == missing["code"] == "forbidden"
    assert existing["error"] == missing["error"]
    await b.barrier()
    assert len(b.events["onMemberJoin"]) == 0
    assert await get_state().presence.viewing_user_ids(chat_id) == {str(bob.pk)}
    assert chat_room(chat_id) not in sio.rooms(a.sio.get_sid())


async def test_other_user_errors(clients, make_user, settings):
    settings.CHAT_PROVISION_REFERENCED_USERS = False  # else a placeholder (tests/sockets/test_placeholder_users.py)
    alice = make_user("Alice")
    a = await clients(alice)
    myself = await a.call("joinRoom", {"otherUserId": str(alice.pk)})
    assert myself["code"] == "invalid"
    unknown = await a.call("joinRoom", {"otherUserId": str(uuid.uuid4())})
    assert unknown["code"] == "not_found"
    assert chat_count() == 0


async def test_user_id_of_someone_else_is_forbidden(clients, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    chat_id = direct_chat(alice, bob)
    a = await clients(alice)
    answer = await a.call("joinRoom", {"chatHeaderId": chat_id, "userId": str(bob.pk)})
    assert answer["code"] == "forbidden"
    assert await get_state().presence.viewing_user_ids(chat_id) == set()
    ok = await a.call("joinRoom", {"chatHeaderId": chat_id, "userId": str(alice.pk).upper()})
    assert ok["joined"] is True


async def test_payload_token_of_another_user_is_forbidden(clients, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    chat_id = direct_chat(alice, bob)
    a = await clients(alice)
    answer = await a.call("joinRoom", {"chatHeaderId": chat_id, "accessToken": issue_token(bob.pk)})
    assert answer["code"] == "forbidden"


async def test_unverified_socket_needs_a_token_and_is_bound_by_one(clients, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    chat_id = direct_chat(alice, bob)
    a = await clients(alice, token=None)
    refused = await a.call("joinRoom", {"chatHeaderId": chat_id})
    assert refused["code"] == "unauthorized"
    bad = await a.call("joinRoom", {"chatHeaderId": chat_id, "accessToken": "not-a-jwt"})
    assert bad["code"] == "unauthorized"
    assert await get_state().presence.viewing_user_ids(chat_id) == set()
    ack = await a.call("joinRoom", {"chatHeaderId": chat_id, "accessToken": issue_token(alice.pk)})
    assert ack["joined"] is True
    assert await get_state().presence.online_user_ids([alice.pk]) == {str(alice.pk)}
    assert await get_state().presence.viewing_user_ids(chat_id) == {str(alice.pk)}


async def test_without_ack_an_error_comes_back_as_exception(clients, make_user):
    alice = make_user("Alice")
    a = await clients(alice)
    await a.sio.emit("joinRoom", {"chatHeaderId": 999})
    (exc,) = await a.received("exception")
    assert exc == {"error": exc["error"], "code": "forbidden", "event": "joinRoom"}


# --- exactly one chat per pair, even when both ask at the same moment ----------------------------


def _join_from_both_sides(alice, bob, threads_n: int, *, before_join=lambda: None) -> None:
    """`threads_n` threads, each with its own connection, join by otherUserId at once (Alice asking for
    Bob, then Bob for Alice, in turn); all of them must get the same, single chat of two members."""
    results, errors = [], []

    def worker(i):
        try:
            me, other = (alice, bob) if i % 2 == 0 else (bob, alice)
            before_join()
            results.append(rooms.room_join(user=me, other_user_id=str(other.pk)).chat_id)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert len(results) == threads_n and len(set(results)) == 1
    assert ChatHeader.objects.count() == 1
    assert ChatMember.objects.filter(chat_id=results[0]).count() == 2


@pytest.mark.django_db(transaction=True)  # committed rows: every thread has its own connection
def test_concurrent_join_by_other_user_creates_exactly_one_chat(make_user):
    """Threads with their own connections call the service at once, in both directions.

    Needs committed data (transaction=True) so that every thread sees the users; it holds on
    PostgreSQL (DATABASE_URL=postgres://...) as on SQLite: the unique direct_key decides the race.
    """
    alice, bob = make_user("Alice"), make_user("Bob")
    threads_n = 8
    barrier = threading.Barrier(threads_n)
    _join_from_both_sides(alice, bob, threads_n, before_join=lambda: barrier.wait(timeout=10))


@pytest.mark.django_db(transaction=True)
def test_both_sides_missing_the_chat_still_end_with_one(make_user, monkeypatch):
    """The worst interleaving, forced on any database: every thread has looked for the chat and found
    none before any of them creates it. The unique pair key lets one insert win; the others read it."""
    from chat.services import chats as chat_services

    alice, bob = make_user("Alice"), make_user("Bob")
    threads_n = 6
    all_looked = threading.Barrier(threads_n)
    real_atomic = chat_services.transaction.atomic

    class AfterEveryoneLooked:
        @staticmethod
        def atomic(*args, **kwargs):
            all_looked.wait(timeout=10)
            return real_atomic(*args, **kwargs)

    monkeypatch.setattr(chat_services, "transaction", AfterEveryoneLooked)
    _join_from_both_sides(alice, bob, threads_n)
