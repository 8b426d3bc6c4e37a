# ruff: noqa: RUF002, RUF003 - Arabic letters are the point of this module
"""The text that message search indexes and matches (CONTRACT §9 `searchMessages`), for Arabic and
English alike, on PostgreSQL (the 'simple' text search configuration) and SQLite (FTS5 unicode61).

Both databases get words already folded by the server, so they match the same way:
- Unicode compatibility forms unfolded (NFKD: Arabic presentation forms, ligatures, full-width letters);
- every combining mark dropped: Latin accents (é → e) and Arabic harakat, shadda, sukun, superscript
  alef; since NFKD splits أ إ آ into ا plus a hamza or madda mark, the alef forms fold to ا too (and
  ؤ ئ to و ي);
- tatweel (ـ) dropped; ى folded to ي and ة to ه, which people type interchangeably;
- case folded (casefold: ß → ss);
- words are runs of letters and digits (`\\w`): punctuation and emoji separate words.

The prefix ال (and وال، بال، كال، فال، لل: "and the", "with the", ...) is optional: a document
indexes each such word twice, as written and without the prefix, and a query keeps only the word
without it, so "كتاب" and "الكتاب" find both. Other clitics and inflections (plurals, suffixed
pronouns) are not stemmed.
"""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"\w+")
_TATWEEL = "\u0640"
_FOLD = str.maketrans({"\u0649": "\u064a", "\u0629": "\u0647", "\u0671": "\u0627", _TATWEEL: None})  # ى→ي ة→ه ٱ→ا
# Longest first: وال before ال. A stem must keep at least two letters ("الم" stays as it is).
_ARTICLES = ("وال", "بال", "كال", "فال", "لل", "ال")
MAX_QUERY_WORDS = 10


def fold(text: str) -> str:
    """`text` with case, accents, harakat, tatweel and the alef forms folded away."""
    if text.isascii():
        return text.lower()  # nothing to decompose or drop; casefold is lower on ASCII (every message's path)
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return unicodedata.normalize("NFC", bare.translate(_FOLD)).casefold()


def words(text: str) -> list[str]:
    return _WORD.findall(fold(text))


def without_article(word: str) -> str:
    """The word without a leading ال (or وال, بال, كال, فال, لل), when at least two letters remain."""
    for article in _ARTICLES:
        if word.startswith(article) and len(word) - len(article) >= 2:
            return word[len(article) :]
    return word


def document(*texts: str) -> str:
    """What is indexed for a message: its folded words, each word with an article also without it."""
    out: list[str] = []
    for text in texts:
        for word in words(text or ""):
            out.append(word)
            stem = without_article(word)
            if stem != word:
                out.append(stem)
    return " ".join(out)


def query_words(query: str) -> list[str]:
    """The words a query must match (all of them), folded and without their article; at most 10."""
    seen = dict.fromkeys(without_article(word) for word in words(query))
    return list(seen)[:MAX_QUERY_WORDS]
