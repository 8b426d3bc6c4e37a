"""muteChat / unmuteChat and `mutedUntil` (CONTRACT §9) through a live server and real sockets."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chat.models import ChatMember
from chat.services.groups import group_member_remove
from tests.conftest import run_sync
from tests.sockets._message_helpers import block, group_chat, header
from tests.sockets.rooms_support import HEADER_KEYS

pytestmark = pytest.mark.django_db(transaction=True)

FOREVER = "9999-12-31T23:59:59.000Z"


def muted_until(user, chat_id):
    return run_sync(lambda: ChatMember.objects.get(user=user, chat_id=chat_id).muted_until)


async def test_mute_until_a_time_then_unmute(scene):
    s = scene
    until = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    ack = await s.a1.call("muteChat", {"chatHeaderId": s.chat_id, "until": until.isoformat().replace("+00:00", "Z")})
    assert set(ack) == HEADER_KEYS and ack["id"] == s.chat_id
    assert ack["mutedUntil"] == until.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    headers = await s.a1.call("findAllChatHeaders", {})
    assert [h["mutedUntil"] for h in headers["items"] if h["id"] == s.chat_id] == [ack["mutedUntil"]]
    chats = await s.a1.call("getMyChats", {})
    assert [c["mutedUntil"] for c in chats if c["chatHeaderId"] == s.chat_id] == [ack["mutedUntil"]]
    # Bob's view of the chat is his own: not muted.
    assert header(s.bob, s.chat_id)["mutedUntil"] is None
    assert (await s.b1.call("getMyChats", {}))[0]["mutedUntil"] is None

    ack = await s.a2.call("unmuteChat", {"chatHeaderId": s.chat_id})
    assert ack["mutedUntil"] is None and muted_until(s.alice, s.chat_id) is None


async def test_mute_without_a_time_lasts_until_unmuted_and_a_past_time_unmutes(scene):
    s = scene
    assert (await s.a1.call("muteChat", {"chatHeaderId": s.chat_id}))["mutedUntil"] == FOREVER
    assert (await s.a1.call("muteChat", {"chatHeaderId": s.chat_id, "until": None}))["mutedUntil"] == FOREVER
    past = "2020-01-01T00:00:00Z"
    assert (await s.a1.call("muteChat", {"chatHeaderId": s.chat_id, "until": past}))["mutedUntil"] is None
    assert muted_until(s.alice, s.chat_id) is None


async def test_a_mute_that_ended_is_simply_over(scene):
    s = scene
    await s.a1.call("muteChat", {"chatHeaderId": s.chat_id})
    ended = datetime.now(UTC) - timedelta(seconds=1)
    run_sync(lambda: ChatMember.objects.filter(user=s.alice, chat_id=s.chat_id).update(muted_until=ended))
    assert header(s.alice, s.chat_id)["mutedUntil"] is None  # no job cleared it
    assert (await s.a1.call("getMyChats", {}))[0]["mutedUntil"] is None


async def test_mute_is_a_chat_settings_change_for_the_user_alone(scene):
    s = scene
    start = (await s.a1.call("sync", {"since": None}))["cursor"]
    bob_start = (await s.b1.call("sync", {"since": None}))["cursor"]
    await s.a1.call("muteChat", {"chatHeaderId": s.chat_id})
    changes = (await s.a2.call("sync", {"since": start}))["changes"]
    assert [(c["type"], c["chatHeaderId"], c["data"]) for c in changes] == [
        ("chat.settings", s.chat_id, {"mutedUntil": FOREVER})
    ]
    assert (await s.b1.call("sync", {"since": bob_start}))["changes"] == []
    # Muting again changes nothing, so records nothing.
    await s.a1.call("muteChat", {"chatHeaderId": s.chat_id})
    assert len((await s.a2.call("sync", {"since": start}))["changes"]) == 1


async def test_a_non_member_and_a_removed_member_are_refused(scene, make_user, clients):
    s = scene
    for payload in ({"chatHeaderId": s.chat_id}, {"chatHeaderId": 987_654}):
        for event in ("muteChat", "unmuteChat"):
            answer = await s.c1.call(event, payload)
            assert answer["code"] == "forbidden", answer
    dave = make_user("Dave")
    gid = group_chat(s.alice, dave)
    run_sync(group_member_remove, actor=s.alice, chat_id=gid, user_id=dave.pk)
    d = await clients(dave)
    assert (await d.call("muteChat", {"chatHeaderId": gid}))["code"] == "forbidden"
    assert run_sync(lambda: ChatMember.objects.filter(muted_until__isnull=False).count()) == 0


async def test_a_blocked_user_may_still_mute_their_own_chat(scene):
    """Muting changes only the muter's own pushes: a block does not stop it (README, API notes)."""
    s = scene
    block(s.bob, s.alice)
    assert (await s.a1.call("muteChat", {"chatHeaderId": s.chat_id}))["mutedUntil"] == FOREVER


@pytest.mark.parametrize("until", ["tomorrow", "2026-13-01T00:00:00Z", 12, True, ""])
async def test_an_until_that_is_not_a_time_is_invalid(scene, until):
    s = scene
    answer = await s.a1.call("muteChat", {"chatHeaderId": s.chat_id, "until": until})
    assert answer["code"] == "invalid" and "until" in answer["error"], answer
    assert muted_until(s.alice, s.chat_id) is None
