"""`searchMessages` (CONTRACT §9): full-text search over the messages of the user's chats.

The words are folded by the server (chat.search_text) on both sides, so PostgreSQL and SQLite match
alike: PostgreSQL with the 'simple' configuration over `search_text`, stored as the generated
tsvector column `search_vector` under a GIN index (migrations 0006_search, 0007_search_vector), ranked
by ts_rank; SQLite with the FTS5 table `chat_message_fts` (unicode61, remove_diacritics), ranked by
bm25. Every query word must match, as a whole word. Best match first, then newest, among the newest
`SEARCH_WINDOW` (1,000) matches: ranking every match of a word in a quarter of a million messages took
PostgreSQL 1.2 s (bench/social.py), the newest thousand ~40 ms (it walks the primary key backwards for
a common word and the GIN index for a rare one, as the tsvector statistics tell it). `totalCount`
counts the matches in that window.

Only visible messages of chats the user is a member of now: a removed member's old chats are out, a
deleted message is out (PostgreSQL filters `is_deleted`; SQLite's triggers also drop it from the index).
Three queries: the page of ids with the total (a window COUNT), the page's MessageDtos, their reactions.
(Prefix matching, "rep" finding "report", is left out: PostgreSQL cannot estimate how many rows a
prefix matches, and then walked the whole table for a rare one.)
"""

from __future__ import annotations

from django.db import connection

from chat import dtos
from chat.errors import Forbidden, Invalid
from chat.models import ChatMember, ChatMessage, User
from chat.search_text import query_words
from chat.selectors.social import fill_reactions

DEFAULT_SEARCH_PAGE = 20
SEARCH_WINDOW = 1000
MAX_SEARCH_PAGE = 100
MAX_QUERY_LENGTH = 200


def message_search(
    *, user: User, query: str, chat_id: int | None = None, skip: int = 0, limit: int = DEFAULT_SEARCH_PAGE
) -> dict:
    """`{items: [MessageDto], totalCount}` of the user's visible messages matching every word of `query`.

    A query without a word (only spaces, punctuation, emoji): `invalid`. `chat_id`: within that chat,
    `forbidden` unless the user is a member. `limit` is clamped to 0..100.
    """
    terms = query_words(query)
    if not terms:
        raise Invalid("query: give at least one word to search for.")
    limit = max(0, min(int(limit), MAX_SEARCH_PAGE))
    skip = max(0, int(skip))
    user_id = User._meta.pk.get_db_prep_value(user.pk, connection)
    if chat_id is not None and not ChatMember.objects.filter(chat_id=chat_id, user_id=user.pk).exists():
        raise Forbidden("You are not a member of this chat.")
    if connection.vendor == "postgresql":
        sql, match = _postgres_sql(chat_id is not None), _postgres_query(terms)
    else:
        sql, match = _sqlite_sql(chat_id is not None), _sqlite_query(terms)
    params = [match, user_id, *([chat_id] if chat_id is not None else [])]
    if connection.vendor == "postgresql":
        params.append(match)  # the ranking's query
    params += [max(limit, 1), skip]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    if rows:
        total = rows[0][1]
    elif skip:
        with connection.cursor() as cursor:  # past the last page: the total still counts
            cursor.execute(sql, [*params[:-2], 1, 0])
            first = cursor.fetchone()
        total = first[1] if first else 0
    else:
        total = 0
    ids = [row[0] for row in rows][:limit]
    found = {row["id"]: row for row in ChatMessage.objects.filter(pk__in=ids).values(*dtos.MESSAGE_DTO_VALUES)}
    items = [dtos.message_dto_from_values(found[pk]) for pk in ids if pk in found]
    fill_reactions(items)
    return {"items": items, "totalCount": total}


def _postgres_query(terms: list[str]) -> str:
    # Words are runs of \w, so no tsquery operator can be in them; each is quoted all the same.
    return " & ".join(f"'{term}'" for term in terms)


def _sqlite_query(terms: list[str]) -> str:
    return " ".join(f'"{term}"' for term in terms)


_MINE = "m.chat_id IN (SELECT c.chat_id FROM chat_chatmember c WHERE c.user_id = %s)"


def _postgres_sql(one_chat: bool) -> str:
    # search_vector: a generated column, to_tsvector('simple', search_text), under a GIN index (0007).
    return (
        "SELECT w.id, COUNT(*) OVER () FROM (SELECT m.id, m.search_vector FROM chat_chatmessage m"
        " WHERE m.search_vector @@ to_tsquery('simple', %s) AND NOT m.is_deleted AND "
        + _MINE
        + (" AND m.chat_id = %s" if one_chat else "")
        + f" ORDER BY m.id DESC LIMIT {SEARCH_WINDOW}) w"
        " ORDER BY ts_rank(w.search_vector, to_tsquery('simple', %s)) DESC, w.id DESC LIMIT %s OFFSET %s"
    )


def _sqlite_sql(one_chat: bool) -> str:
    # FTS5's rank (bm25, lower is better) is only available in the query on the FTS table itself.
    return (
        "SELECT w.id, COUNT(*) OVER () FROM (SELECT m.id, f.rank FROM (SELECT rowid AS id, rank"
        " FROM chat_message_fts WHERE chat_message_fts MATCH %s) f JOIN chat_chatmessage m ON m.id = f.id"
        " WHERE m.is_deleted = 0 AND "
        + _MINE
        + (" AND m.chat_id = %s" if one_chat else "")
        + f" ORDER BY m.id DESC LIMIT {SEARCH_WINDOW}) w ORDER BY w.rank, w.id DESC LIMIT %s OFFSET %s"
    )
