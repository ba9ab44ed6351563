"""Name search: what is indexed for a customer and what a typed query looks for.

The index text comes from names.search_terms (normalised words and phonetic keys, both
scripts). A query is cut into words; each meaningful word must be found either as its
normalised spelling or as its phonetic key, so "محمد" finds "Mohamed" and "Mouhamed".
Particles (el, ben, ait, عبد...) are too common to filter on and only help the ranking.
"""

from __future__ import annotations

from dataclasses import dataclass

from sila_identity.domain.names import normalize_name, phonetic_key, search_terms

PARTICLES = frozenset(
    {"el", "al", "l", "ben", "bin", "ibn", "ait", "abd", "eddine", "بن", "عبد", "ايت", "الدين"}
)
MAX_QUERY_WORDS = 6


@dataclass(frozen=True, slots=True)
class QueryWord:
    """One word of a query: the spelling and the phonetic key to look for."""

    text: str
    key: str


def customer_search_text(
    *,
    first_name: str | None,
    last_name: str | None,
    first_name_ar: str | None = None,
    last_name_ar: str | None = None,
    company_name: str | None = None,
) -> str | None:
    """What the name index holds for a customer (None when there is no name at all)."""
    if company_name and not (first_name or last_name or first_name_ar or last_name_ar):
        return search_terms(company_name, "") or None
    text = search_terms(first_name or "", last_name or "", first_name_ar, last_name_ar)
    if company_name:
        text = " ".join(filter(None, (text, search_terms(company_name, ""))))
    return text or None


def query_words(query: str) -> list[QueryWord]:
    """The words of a typed query that filter; particles and empty keys are dropped."""
    words: list[QueryWord] = []
    for word in normalize_name(query).split():
        if word in PARTICLES or len(word) < 2:
            continue
        words.append(QueryWord(text=word, key=phonetic_key(word)))
    return words[:MAX_QUERY_WORDS]
