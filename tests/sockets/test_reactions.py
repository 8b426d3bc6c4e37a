"""reactMessage, messageReactions and `reactions` in every MessageDto (CONTRACT §9), through a live server."""

from __future__ import annotations

import pytest

from chat.models import Reaction
from chat.services.groups import group_member_remove
from tests.conftest import barrier, run_sync
from tests.sockets._message_helpers import assert_message_dto, block, direct_chat, group_chat, header, join, send

pytestmark = pytest.mark.django_db(transaction=True)


def rows(**filters) -> list[tuple]:
    return run_sync(lambda: sorted(Reaction.objects.filter(**filters).values_list("message_id", "emoji")))


async def react(client, chat_id, message_id, emoji, **extra):
    return await client.call(
        "reactMessage", {"chatHeaderId": chat_id, "messageId": message_id, "emoji": emoji, **extra}
    )


async def test_react_add_remove_and_everyone_in_the_room_hears_it(scene):
    s = scene
    sent = await send(s.a1, s.chat_id, "hello")
    assert sent["reactions"] == []
    ack = await react(s.b1, s.chat_id, sent["id"], "👍")
    thumbs = [{"emoji": "👍", "count": 1, "userIds": [str(s.bob.pk)]}]
    expected = {"chatHeaderId": s.chat_id, "messageId": sent["id"], "reactions": thumbs}
    assert ack == expected
    for client in (s.a1, s.b1):
        assert await client.wait_for("messageReactions") == expected
    await react(s.a1, s.chat_id, sent["id"], "👍🏽")  # a skin tone: another emoji
    ack = await react(s.a1, s.chat_id, sent["id"], "👍")
    assert ack["reactions"] == [
        {"emoji": "👍", "count": 2, "userIds": [str(s.bob.pk), str(s.alice.pk)]},  # most used first
        {"emoji": "👍🏽", "count": 1, "userIds": [str(s.alice.pk)]},
    ]
    # History, headers and newMessages carry them.
    page = await s.b1.call("findAllMessages", {"chatHeaderId": s.chat_id})
    assert page["items"][0]["reactions"] == ack["reactions"]
    assert_message_dto(page["items"][0])
    headers = await s.b1.call(
        "findAllChatHeaders", {"RoomsWithLastMessageIds": [{"ChatHeaderId": s.chat_id, "LastMessageId": 0}]}
    )
    item = next(h for h in headers["items"] if h["id"] == s.chat_id)
    assert item["lastMessage"]["reactions"] == ack["reactions"]
    assert item["newMessages"][0]["reactions"] == ack["reactions"]
    assert header(s.alice, s.chat_id)["lastMessage"]["reactions"] == ack["reactions"]

    ack = await react(s.b1, s.chat_id, sent["id"], "👍", remove=True)
    assert ack["reactions"] == [  # a tie: the emoji used first (of the reactions that are left) first
        {"emoji": "👍🏽", "count": 1, "userIds": [str(s.alice.pk)]},
        {"emoji": "👍", "count": 1, "userIds": [str(s.alice.pk)]},
    ]
    assert rows() == sorted([(sent["id"], "👍"), (sent["id"], "👍🏽")])


async def test_reactions_change_the_message_seq_and_are_a_change(scene):
    s = scene
    sent = await send(s.a1, s.chat_id, "hello")
    start = (await s.b1.call("sync", {"since": None}))["cursor"]
    ack = await react(s.b1, s.chat_id, sent["id"], "🎉")
    changes = (await s.a2.call("sync", {"since": start}))["changes"]
    assert [(c["type"], c["data"]) for c in changes] == [
        ("message.reactions", {"messageId": sent["id"], "reactions": ack["reactions"]})
    ]
    page = await s.a1.call("findAllMessages", {"chatHeaderId": s.chat_id})
    assert page["items"][0]["seq"] == changes[0]["seq"]


async def test_adding_twice_or_removing_what_is_absent_changes_and_announces_nothing(scene):
    s = scene
    sent = await send(s.a1, s.chat_id)
    await react(s.b1, s.chat_id, sent["id"], "❤️")
    await s.a1.wait_for("messageReactions")
    again = await react(s.b1, s.chat_id, sent["id"], "❤️")
    absent = await react(s.b1, s.chat_id, sent["id"], "😂", remove=True)
    assert again["reactions"] == absent["reactions"] == [{"emoji": "❤️", "count": 1, "userIds": [str(s.bob.pk)]}]
    await barrier(s.a1)
    assert len(s.a1.events["messageReactions"]) == 1
    assert rows() == [(sent["id"], "❤️")]


@pytest.mark.parametrize("emoji", ["a", "👍👍", "👍 ok", ":thumbsup:", "1", " ", "👍a"])
async def test_what_is_not_one_emoji_is_invalid(scene, emoji):
    s = scene
    sent = await send(s.a1, s.chat_id)
    answer = await react(s.b1, s.chat_id, sent["id"], emoji)
    assert answer["code"] == "invalid", answer
    assert rows() == []


async def test_a_21st_emoji_is_invalid(scene):
    s = scene
    sent = await send(s.a1, s.chat_id)
    twenty = [
        "😀",
        "😃",
        "😄",
        "😁",
        "😆",
        "😅",
        "😂",
        "🤣",
        "😊",
        "😇",
        "🙂",
        "🙃",
        "😉",
        "😌",
        "😍",
        "🥰",
        "😘",
        "😗",
        "😙",
        "😚",
    ]
    for emoji in twenty:
        assert "reactions" in await react(s.b1, s.chat_id, sent["id"], emoji)
    answer = await react(s.b1, s.chat_id, sent["id"], "😋")
    assert answer["code"] == "invalid", answer
    assert len(rows()) == 20
    # Others still may; so may re-adding one of the twenty.
    assert "reactions" in await react(s.a1, s.chat_id, sent["id"], "😋")
    assert "reactions" in await react(s.b1, s.chat_id, sent["id"], "😀")


async def test_a_non_member_a_removed_member_and_a_blocked_user_are_refused(scene, make_user, clients):
    s = scene
    sent = await send(s.a1, s.chat_id)
    answer = await react(s.c1, s.chat_id, sent["id"], "👍")
    assert answer["code"] == "forbidden", answer
    dave = make_user("Dave")
    gid = group_chat(s.alice, dave)
    d = await clients(dave)
    await join(d, gid)
    in_group = await send(s.a1, gid)
    run_sync(group_member_remove, actor=s.alice, chat_id=gid, user_id=dave.pk)
    assert (await react(d, gid, in_group["id"], "👍"))["code"] == "forbidden"
    block(s.bob, s.alice)
    s.a1.clear()
    assert (await react(s.b1, s.chat_id, sent["id"], "👍"))["code"] == "blocked"
    assert (await react(s.a1, s.chat_id, sent["id"], "👍"))["code"] == "blocked"
    await barrier(s.a1, s.b1)
    assert s.a1.events["messageReactions"] == [] and s.b1.events["messageReactions"] == []
    assert rows() == []


async def test_a_deleted_message_or_one_of_another_chat_is_forbidden(scene):
    s = scene
    sent = await send(s.a1, s.chat_id)
    elsewhere = await send(s.c1, direct_chat(s.carol, s.alice))  # Alice's chat with Carol, not Bob's
    await s.a1.call("removeMessage", {"id": sent["id"], "chatHeaderId": s.chat_id})
    assert (await react(s.b1, s.chat_id, sent["id"], "👍"))["code"] == "forbidden"
    assert (await react(s.b1, s.chat_id, elsewhere["id"], "👍"))["code"] == "forbidden"
    assert (await react(s.a1, s.chat_id, elsewhere["id"], "👍"))["code"] == "forbidden"  # a member there, too
    assert (await react(s.b1, s.chat_id, 987_654, "👍"))["code"] == "forbidden"
    assert rows() == []
