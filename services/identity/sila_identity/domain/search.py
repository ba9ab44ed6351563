"""Name search: what is indexed for a customer and what a typed query looks for.

The index text comes from names.search_terms (normalised words and phonetic keys, both
scripts). A query is cut into words; each meaningful word must be found either as its
normalised spelling or as its phonetic key, so "محمد" finds "Mohamed" and "Mouhamed".
Particles (el, ben, ait, عبد...) are too common to filter on and only help the ranking.

The same words and keys are also stored as an array of exact keys (`name_keys`, GIN
indexed), each once for the whole country and once prefixed with the customer's wilaya:
"=mohamed" (a normalised word), "#mhmd" (a phonetic key), "16=mohamed", "16#mhmd". A query
asks, for every word, that one of its keys be in the array; the index answers that
without rescoring every customer who shares a trigram with a common name.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sila_identity.domain.names import normalize_name, phonetic_key, search_forms, search_terms

PARTICLES = frozenset(
    {"el", "al", "l", "ben", "bin", "ibn", "ait", "abd", "eddine", "بن", "عبد", "ايت", "الدين"}
)
MAX_QUERY_WORDS = 6
WORD_MARK = "="
SOUND_MARK = "#"
# The scope of a key valid in the whole country (no wilaya prefix).
COUNTRY = ""


@dataclass(frozen=True, slots=True)
class QueryWord:
    """One word of a query: the spelling and the phonetic key to look for, and the key of the
    word with the particles typed before it ("بن حديد" also looks for the key of Benhadid).
    """

    text: str
    key: str
    joined_key: str = ""

    def sounds(self) -> list[str]:
        """The phonetic keys worth looking for (two symbols at least: one matches too much)."""
        return [key for key in dict.fromkeys((self.key, self.joined_key)) if len(key) >= 2]

    def keys(self, scopes: Sequence[str], *, exact: bool = False) -> list[str]:
        """The name keys that match this word in the given scopes (wilaya codes or COUNTRY).

        With exact, only the spelling as typed (normalised); otherwise the phonetic keys too.
        """
        forms = [WORD_MARK + self.text]
        if not exact:
            forms.extend(SOUND_MARK + sound for sound in self.sounds())
        return [scope + form for scope in scopes for form in forms]


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
    particles: list[str] = []
    for typed, word in _typed_words(query):
        if word in PARTICLES:
            particles.append(typed)
            continue
        if len(word) >= 2:
            joined = phonetic_key(" ".join([*particles, typed])) if particles else ""
            words.append(QueryWord(text=word, key=phonetic_key(typed), joined_key=joined))
        particles = []
    return words[:MAX_QUERY_WORDS]


def _typed_words(query: str) -> list[tuple[str, str]]:
    """(as typed, normalised) per word. The key is computed from the word as typed, as for a
    registered name: normalisation erases what the key needs (a final ة is not a ه).
    """
    pairs: list[tuple[str, str]] = []
    for typed in query.split():
        normalised = normalize_name(typed).split()
        if len(normalised) == 1:
            pairs.append((typed, normalised[0]))
        else:
            pairs.extend((word, word) for word in normalised)
    return pairs


def customer_name_keys(
    *,
    wilaya_code: str,
    first_name: str | None,
    last_name: str | None,
    first_name_ar: str | None = None,
    last_name_ar: str | None = None,
    company_name: str | None = None,
) -> list[str] | None:
    """The exact keys a customer is found by: words and phonetic keys, country and wilaya.

    Holds the same terms as customer_search_text; None when there is no name at all.
    """
    words, sounds = search_forms(first_name, last_name, first_name_ar, last_name_ar, company_name)
    forms = [WORD_MARK + word for word in words] + [SOUND_MARK + sound for sound in sounds]
    if not forms:
        return None
    return [scope + form for scope in (COUNTRY, wilaya_code) for form in forms]


def search_scopes(wilaya: str | None, allowed: Iterable[str]) -> list[str]:
    """The key prefixes a search looks in: the wilaya asked for, else the caller's wilayas,
    else the whole country. Empty when the wilaya asked for is outside the caller's.
    """
    allowed = set(allowed)
    if wilaya is not None:
        return [wilaya] if "*" in allowed or wilaya in allowed else []
    if "*" in allowed:
        return [COUNTRY]
    return sorted(allowed)
