"""The list selectors: a fixed number of queries whatever the size (CONTRACT §4, STYLE.md), and the
catch-up rule of findAllChatHeaders."""

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chat.models import FriendshipStatus
from chat.selectors import lists
from tests.sockets.rooms_support import befriend, delete_message, direct_chat, group_chat, send

pytestmark = pytest.mark.django_db

# One bound per selector, the same for 1 and for 50 of everything.
HEADERS_QUERIES = 6  # count, page ids, memberships + unread, members, newMessages, their reactions
DIRECT_CHATS_QUERIES = 4  # rows, users, last messages, friendships
FRIENDS_QUERIES = 1


@pytest.fixture(autouse=True)
def no_rate_limit(settings):
    settings.CHAT_RATE_LIMIT = "0"


def world(make_user, n):
    """Alice with n friends, n one-to-one chats and n three-person groups, all with messages."""
    alice = make_user("Alice")
    others = [make_user(f"Friend {i}") for i in range(n + 1)]
    chats = []
    for i in range(n):
        befriend(alice, others[i])
        direct = direct_chat(alice, others[i])
        group = group_chat(alice, others[i], others[i + 1], name=f"G{i}")
        send(others[i], direct, "hi")
        send(alice, direct, "hello")
        send(others[i + 1], group, "yo")
        chats += [direct, group]
    befriend(alice, others[n], FriendshipStatus.PENDING)
    return alice, chats


@pytest.mark.parametrize("n", [1, 50])
def test_find_all_chat_headers_queries_do_not_grow(make_user, django_assert_max_num_queries, n):
    alice, chats = world(make_user, n)
    with django_assert_max_num_queries(HEADERS_QUERIES):
        page = lists.chat_headers_page(user=alice, skip=0, limit=100, rooms={c: 0 for c in chats}).value
    assert page["totalCount"] == 2 * n and len(page["items"]) == 2 * n
    assert all(len(item["newMessages"]) in (1, 2) for item in page["items"])


@pytest.mark.parametrize("n", [1, 50])
def test_get_my_chats_queries_do_not_grow(make_user, django_assert_max_num_queries, n):
    alice, _ = world(make_user, n)
    with django_assert_max_num_queries(DIRECT_CHATS_QUERIES):
        chats = lists.direct_chats_for_user(user=alice).value
    assert len(chats) == n
    assert {c["lastMessage"] for c in chats} == {"hello"}
    assert {c["friendshipStatus"] for c in chats} == {FriendshipStatus.ACCEPTED}


@pytest.mark.parametrize("n", [1, 50])
def test_get_my_friendships_queries_do_not_grow(make_user, django_assert_max_num_queries, n):
    alice, _ = world(make_user, n)
    with django_assert_max_num_queries(FRIENDS_QUERIES):
        friends = lists.friends_for_user(user=alice).value
    assert len(friends) == n and all(f["chatHeaderId"] is not None for f in friends)


def test_new_messages_is_one_query_for_any_number_of_rooms(make_user):
    alice = make_user("Alice")
    bobs = [make_user(f"Bob {i}") for i in range(5)]
    cursors = {}
    for bob in bobs:
        chat_id = direct_chat(alice, bob)
        cursors[chat_id] = send(bob, chat_id, "old").pk
        send(bob, chat_id, "new")
    with CaptureQueriesContext(connection) as captured:
        found = lists.new_messages_by_chat(cursors=cursors)
    assert len(captured) == 1
    assert {chat_id: [m["message"] for m in msgs] for chat_id, msgs in found.items()} == {
        chat_id: ["new"] for chat_id in cursors
    }


def test_new_messages_are_the_oldest_visible_after_the_cursor_per_chat(make_user):
    alice, bob, carol = make_user("Alice"), make_user("Bob"), make_user("Carol")
    busy, calm = direct_chat(alice, bob), direct_chat(alice, carol)
    sent = [send(bob, busy, f"m{i}") for i in range(8)]
    delete_message(sent[1])
    delete_message(sent[4])
    calm_message = send(carol, calm, "only")
    found = lists.new_messages_by_chat(cursors={busy: sent[0].pk, calm: 0}, limit=3)
    # The limit counts visible messages: deleted ones neither show nor use up the page.
    assert [m["id"] for m in found[busy]] == [sent[2].pk, sent[3].pk, sent[5].pk]
    assert [m["id"] for m in found[calm]] == [calm_message.pk]
    assert lists.new_messages_by_chat(cursors={busy: sent[7].pk}) == {}


def test_headers_ignore_rooms_off_the_page_and_not_the_users(make_user):
    alice, bob, carol = make_user("Alice"), make_user("Bob"), make_user("Carol")
    older, newer = direct_chat(alice, bob), direct_chat(alice, carol)
    foreign = direct_chat(bob, carol)
    send(bob, older, "a")
    send(carol, newer, "b")
    send(bob, foreign, "secret")
    page = lists.chat_headers_page(user=alice, skip=0, limit=1, rooms={older: 0, newer: 0, foreign: 0}).value
    assert [item["id"] for item in page["items"]] == [newer]
    assert [m["message"] for m in page["items"][0]["newMessages"]] == ["b"]
    assert page["totalCount"] == 2


def test_direct_chats_without_messages_come_last_newest_first(make_user):
    alice = make_user("Alice")
    others = [make_user(f"U{i}") for i in range(4)]
    ids = [direct_chat(alice, u) for u in others]
    send(others[0], ids[0], "x")
    order = [c["chatHeaderId"] for c in lists.direct_chats_for_user(user=alice).value]
    assert order == [ids[0], ids[3], ids[2], ids[1]]


@pytest.mark.parametrize("n", [1, 50])
def test_blocks_hide_presence_without_more_queries(make_user, django_assert_max_num_queries, n):
    """CONTRACT §11: members across a block from the viewer are never online or viewing, at no extra cost
    (presence is filled in after the queries, on the event loop: `with_presence`)."""
    from chat.state.reads import with_presence
    from chat.state.store import get_state

    alice, chats = world(make_user, n)
    blocked = [make_user(f"Blocked {i}") for i in range(n)]
    for i, other in enumerate(blocked):
        group_chat(other, alice, name=f"B{i}")
        direct_chat(alice, other)
        befriend(other, alice, FriendshipStatus.BLOCKED)
    friend = make_user("Online friend")
    direct_chat(alice, friend)
    presence = get_state().presence
    async_to_sync(presence.reset)()
    for i, user in enumerate([*blocked, friend]):
        async_to_sync(presence.add_socket)(str(user.pk), f"sid-{i}", "web")
    try:
        with django_assert_max_num_queries(HEADERS_QUERIES):
            page = lists.chat_headers_page(user=alice, skip=0, limit=100, rooms={c: 0 for c in chats})
        page = async_to_sync(with_presence)(page)
        members = [m for item in page["items"] for m in item["members"] if m["userId"] != str(alice.pk)]
        hidden = {str(u.pk) for u in blocked}
        assert {m["userId"] for m in members} >= hidden
        assert not any(m["isOnline"] for m in members if m["userId"] in hidden)
        assert [m["isOnline"] for m in members if m["userId"] == str(friend.pk)] == [True]
        with django_assert_max_num_queries(DIRECT_CHATS_QUERIES):
            direct = lists.direct_chats_for_user(user=alice)
        direct = async_to_sync(with_presence)(direct)
        assert [c["isOnline"] for c in direct if c["userId"] in hidden] == [False] * n
        assert [c["isOnline"] for c in direct if c["userId"] == str(friend.pk)] == [True]
        # The blocked users' own view of Alice, who is offline anyway, and of one another (no block).
        assert lists.chat_headers_page(user=blocked[0], skip=0, limit=100).value["totalCount"] == 2
    finally:
        async_to_sync(presence.reset)()
