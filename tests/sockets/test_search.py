# ruff: noqa: RUF003 - Arabic text is the point of these tests
"""searchMessages (CONTRACT §9) through a live server, on SQLite (FTS5) and PostgreSQL (GIN, 'simple'):
Arabic and English, mixed in one message, with and without diacritics, after an edit and a delete."""

from __future__ import annotations

import pytest

from chat.search_text import document, query_words
from chat.services.groups import group_member_remove
from tests.conftest import run_sync
from tests.sockets._message_helpers import assert_message_dto, block, direct_chat, group_chat, send

pytestmark = pytest.mark.django_db(transaction=True)


async def search(client, query, **extra):
    return await client.call("searchMessages", {"query": query, **extra})


async def found(client, query, **extra) -> list[str]:
    answer = await search(client, query, **extra)
    assert "items" in answer, answer
    assert answer["totalCount"] >= len(answer["items"])
    return [m["message"] for m in answer["items"]]


async def test_arabic_and_english_match_regardless_of_case_diacritics_tatweel_alef_and_article(scene):
    s = scene
    texts = [
        "مَرْحَبًا بِكُمْ في الْمَدْرَسَةِ",  # with harakat
        "أحمد يقرأ الكتاب",
        "Meeting at the CAFÉ, bring the Report",
        "اجتماع غدا about the budget مع إسلام",  # mixed in one message
        "مرحـــــبا",  # tatweel
    ]
    for text in texts:
        await send(s.a1, s.chat_id, text)
    assert await found(s.b1, "مرحبا") == [texts[4], texts[0]]  # equal rank: newest first
    assert await found(s.b1, "مدرسه") == [texts[0]]  # no harakat, no article, ة typed as ه
    assert await found(s.b1, "المدرسة") == [texts[0]]
    assert await found(s.b1, "احمد") == [texts[1]]  # أ typed as ا
    assert await found(s.b1, "كتاب") == [texts[1]]  # without ال
    assert await found(s.b1, "cafe report") == [texts[2]]  # case and accents, every word
    assert await found(s.b1, "CAFÉ") == [texts[2]]
    assert await found(s.b1, "budget اسلام") == [texts[3]]  # both languages in one query
    assert await found(s.b1, "اجتماع BUDGET") == [texts[3]]
    assert await found(s.b1, "budget nothing") == []
    assert await found(s.b1, "repo") == []  # whole words only
    answer = await search(s.b1, "the")
    assert answer["totalCount"] == 2 and len(answer["items"]) == 2
    for item in answer["items"]:
        assert_message_dto(item)


async def test_the_index_follows_edits_and_deletes(scene):
    s = scene
    sent = await send(s.a1, s.chat_id, "السلام عليكم old words")
    assert await found(s.b1, "سلام") == ["السلام عليكم old words"]
    await s.a1.call("updateMessage", {"id": sent["id"], "chatHeaderId": s.chat_id, "message": "new text, نص جديد"})
    assert await found(s.b1, "old") == [] and await found(s.b1, "سلام") == []
    assert await found(s.b1, "جديد NEW") == ["new text, نص جديد"]
    await s.a1.call("removeMessage", {"id": sent["id"], "chatHeaderId": s.chat_id})
    assert await found(s.b1, "جديد") == []
    assert (await search(s.b1, "new"))["totalCount"] == 0


async def test_captions_are_searched_and_media_paths_are_not(scene, uploaded):
    s = scene
    path = uploaded(s.alice, 2)
    ack = await s.a1.call(
        "createMessage", {"chatHeaderId": s.chat_id, "message": path, "messageType": 2, "caption": "صورة الشاطئ beach"}
    )
    assert "chatMessage" in ack, ack
    assert [m["id"] for m in (await search(s.b1, "شاطئ"))["items"]] == [ack["chatMessage"]["id"]]
    assert await found(s.b1, "webp") == [] and await found(s.b1, "uploads") == []


async def test_only_the_users_chats_and_never_a_chat_they_were_removed_from(scene, make_user, clients):
    s = scene
    await send(s.a1, s.chat_id, "secret plan")
    await send(s.c1, direct_chat(s.carol, s.alice), "carol plan")
    assert await found(s.b1, "plan") == ["secret plan"]
    assert await found(s.c1, "plan") == ["carol plan"]
    assert await found(s.a1, "plan") == ["carol plan", "secret plan"]
    assert await found(s.a1, "plan", chatHeaderId=s.chat_id) == ["secret plan"]
    assert (await search(s.c1, "plan", chatHeaderId=s.chat_id))["code"] == "forbidden"
    assert (await search(s.c1, "plan", chatHeaderId=987_654))["code"] == "forbidden"

    dave = make_user("Dave")
    gid = group_chat(s.alice, dave)
    await send(s.a1, gid, "group plan")
    d = await clients(dave)
    assert await found(d, "plan") == ["group plan"]
    run_sync(group_member_remove, actor=s.alice, chat_id=gid, user_id=dave.pk)
    assert await found(d, "plan") == []
    # A block hides presence, not history: the chat's own messages are still found.
    block(s.bob, s.alice)
    assert await found(s.b1, "secret") == ["secret plan"]


async def test_pages_and_totals(scene):
    s = scene
    for i in range(5):
        await send(s.a1, s.chat_id, f"report number {i}")
    page = await search(s.b1, "report", maxResultCount=2, skipCount=1)
    assert page["totalCount"] == 5 and [m["message"] for m in page["items"]] == ["report number 3", "report number 2"]
    past = await search(s.b1, "report", skipCount=10)
    assert past == {"items": [], "totalCount": 5}
    assert len((await search(s.b1, "report", maxResultCount=1000))["items"]) == 5  # clamped, not refused


async def test_matches_beyond_the_window_are_left_out(scene, settings, monkeypatch):
    from chat.selectors import search as search_selectors

    s = scene
    monkeypatch.setattr(search_selectors, "SEARCH_WINDOW", 3)
    for i in range(5):
        await send(s.a1, s.chat_id, f"note {i}" + " note" * (4 - i))  # the oldest match best
    page = await search(s.b1, "note")
    assert page["totalCount"] == 3  # the newest three
    assert [m["message"] for m in page["items"]] == ["note 2 note note", "note 3 note", "note 4"]


@pytest.mark.parametrize("query", ["", "   ", "!!! ...", "👍", None, 5, ["a"]])
async def test_an_empty_query_is_invalid(scene, query):
    s = scene
    answer = await s.b1.call("searchMessages", {"query": query})
    assert answer["code"] == "invalid" and "query" in answer["error"], answer


def test_folding_rules():
    assert query_words("ٱلْكِتَابُ") == query_words("الكتاب") == ["كتاب"]
    assert query_words("إسلام آمنة أحمد") == ["اسلام", "امنه", "احمد"]
    assert query_words("Straße NAÏVE") == ["strasse", "naive"]
    assert document("والكتاب بالقلم") == "والكتاب كتاب بالقلم قلم"
    assert query_words("الم") == ["الم"]  # too short to be an article and a word
