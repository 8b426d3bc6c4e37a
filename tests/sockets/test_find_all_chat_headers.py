"""findAllChatHeaders (CONTRACT §4): the user's chats by activity, paged, with catch-up per room."""

import uuid

import pytest
from django.utils import timezone

from chat.models import ChatHeader
from chat.services.groups import group_create
from chat.tokens import issue_token
from tests.conftest import run_sync
from tests.sockets.rooms_support import (
    HEADER_KEYS,
    MEMBER_KEYS,
    MESSAGE_KEYS,
    delete_message,
    direct_chat,
    group_chat,
    send,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_rate_limit(settings):
    """These tests write many messages through the real service; the limit is not what they test."""
    settings.CHAT_RATE_LIMIT = "0"


def many_groups(owner, n):
    """`n` groups of `owner`'s own, made by the service (a hundred calls take a few tens of ms), all
    with one activity time: the clock never gives a service two equal ones, and paging must break
    such ties by id."""

    def build():
        ids = [group_create(creator=owner, name=f"G{i}", member_ids=[]).pk for i in range(n)]
        ChatHeader.objects.filter(pk__in=ids).update(last_activity_time=timezone.now())

    run_sync(build)


async def test_items_are_chat_headers_most_recent_activity_first(clients, make_user):
    alice, bob, carol = make_user("Alice"), make_user("Bob"), make_user("Carol")
    old = direct_chat(alice, bob)
    group = group_chat(carol, alice, name="Book club")
    newest = direct_chat(alice, carol)
    direct_chat(bob, carol)  # not Alice's
    message = send(bob, old, "ping")  # activity moves the oldest chat to the top
    a = await clients(alice)
    answer = await a.call(
        "findAllChatHeaders", {"AccessToken": issue_token(alice.pk), "UserId": str(alice.pk), "SkipCount": 0}
    )
    assert set(answer) == {"items", "totalCount"}
    assert answer["totalCount"] == 3
    assert [item["id"] for item in answer["items"]] == [old, newest, group]
    for item in answer["items"]:
        assert set(item) == HEADER_KEYS  # no newMessages unless asked
        assert all(set(m) == MEMBER_KEYS for m in item["members"])
    first = answer["items"][0]
    assert first["name"] == "Bob" and first["chatType"] == 0 and first["unreadCount"] == 1
    assert set(first["lastMessage"]) == MESSAGE_KEYS
    assert first["lastMessage"]["id"] == message.pk and first["lastMessage"]["message"] == "ping"
    assert first["lastMessageTime"].endswith("Z") and first["creationTime"].endswith("Z")
    assert answer["items"][2]["chatType"] == 1 and answer["items"][2]["name"] == "Book club"


async def test_paging_defaults_and_clamps(clients, make_user):
    alice = make_user("Alice")
    many_groups(alice, 105)
    a = await clients(alice)
    default = await a.call("findAllChatHeaders", {"AccessToken": issue_token(alice.pk)})
    assert len(default["items"]) == 20 and default["totalCount"] == 105
    clamped = await a.call("findAllChatHeaders", {"MaxResultCount": 10**6})
    assert len(clamped["items"]) == 100
    tail = await a.call("findAllChatHeaders", {"SkipCount": 100, "MaxResultCount": 50})
    assert len(tail["items"]) == 5 and tail["totalCount"] == 105
    ids = [i["id"] for i in clamped["items"]] + [i["id"] for i in tail["items"]]
    assert len(set(ids)) == 105  # pages neither overlap nor skip (ties broken by id)
    empty = await a.call("findAllChatHeaders", {"MaxResultCount": 0})
    assert empty == {"items": [], "totalCount": 105}


async def test_rooms_with_last_message_ids_catch_up(clients, make_user):
    alice, bob, carol = make_user("Alice"), make_user("Bob"), make_user("Carol")
    chat = direct_chat(alice, bob)
    quiet = group_chat(carol, alice)
    other = direct_chat(alice, carol)
    foreign = direct_chat(bob, carol)
    seen = send(bob, chat, "seen")
    fresh = [send(bob if i % 2 else alice, chat, f"m{i}") for i in range(4)]
    delete_message(fresh[1])
    send(carol, other, "not asked for")
    a = await clients(alice)
    answer = await a.call(
        "findAllChatHeaders",
        {
            "RoomsWithLastMessageIds": [
                {"ChatHeaderId": chat, "LastMessageId": seen.pk},
                {"ChatHeaderId": quiet, "LastMessageId": 0},
                {"ChatHeaderId": foreign, "LastMessageId": 0},  # not hers: ignored, nothing leaks
            ]
        },
    )
    items = {item["id"]: item for item in answer["items"]}
    assert foreign not in items
    new = items[chat]["newMessages"]
    assert [m["id"] for m in new] == [fresh[0].pk, fresh[2].pk, fresh[3].pk]  # oldest first, no deleted
    assert all(set(m) == MESSAGE_KEYS for m in new)
    assert items[quiet]["newMessages"] == []
    assert "newMessages" not in items[other]


async def test_new_messages_are_at_most_100_oldest_first(clients, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    chat = direct_chat(alice, bob)
    sent = [send(bob, chat, f"m{i}") for i in range(103)]
    a = await clients(alice)
    cursor = sent[0].pk
    answer = await a.call(
        "findAllChatHeaders", {"RoomsWithLastMessageIds": [{"ChatHeaderId": chat, "LastMessageId": cursor}]}
    )
    new = answer["items"][0]["newMessages"]
    assert [m["id"] for m in new] == [m.pk for m in sent[1:101]]
    # A client continues from the last id it got.
    more = await a.call(
        "findAllChatHeaders", {"RoomsWithLastMessageIds": [{"ChatHeaderId": str(chat), "LastMessageId": new[-1]["id"]}]}
    )
    assert [m["id"] for m in more["items"][0]["newMessages"]] == [sent[101].pk, sent[102].pk]


@pytest.mark.parametrize("key", ["UserId", "userId"])
async def test_another_users_id_is_forbidden(clients, make_user, key):
    alice, bob = make_user("Alice"), make_user("Bob")
    direct_chat(alice, bob)
    a = await clients(alice)
    for other in (str(bob.pk), str(uuid.uuid4()), "user-123"):
        answer = await a.call("findAllChatHeaders", {"AccessToken": issue_token(alice.pk), key: other})
        assert answer["code"] == "forbidden"
    mine = await a.call("findAllChatHeaders", {key: str(alice.pk).upper()})
    assert mine["totalCount"] == 1


async def test_token_of_another_user_is_forbidden_and_tokenless_needs_one(clients, make_user):
    alice, bob = make_user("Alice"), make_user("Bob")
    a = await clients(alice)
    assert (await a.call("findAllChatHeaders", {"AccessToken": issue_token(bob.pk)}))["code"] == "forbidden"
    t = await clients(bob, token=None)
    assert (await t.call("findAllChatHeaders", {}))["code"] == "unauthorized"
    assert (await t.call("findAllChatHeaders", {"AccessToken": issue_token(bob.pk)}))["totalCount"] == 0


@pytest.mark.parametrize(
    "payload",
    [
        {"SkipCount": -1},
        {"SkipCount": "many"},
        {"MaxResultCount": -5},
        {"MaxResultCount": 2.5},
        {"UserId": 42},
        {"RoomsWithLastMessageIds": "1:2"},
        {"RoomsWithLastMessageIds": [5]},
        {"RoomsWithLastMessageIds": [{"LastMessageId": 3}]},
        {"RoomsWithLastMessageIds": [{"ChatHeaderId": "x", "LastMessageId": 3}]},
        {"RoomsWithLastMessageIds": [{"ChatHeaderId": 1, "LastMessageId": -1}]},
        {"RoomsWithLastMessageIds": [{"ChatHeaderId": 1, "LastMessageId": 2**70}]},
        {"AccessToken": 12345},
    ],
)
async def test_bad_payload_is_invalid(clients, make_user, payload):
    alice = make_user("Alice")
    a = await clients(alice)
    assert (await a.call("findAllChatHeaders", payload))["code"] == "invalid"
