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

Two common words asked together ("Mohamed Benali" in the whole country) would make the index
intersect two posting lists of hundreds of thousands of customers each. So the array also
holds, for the whole country, a key per pair of forms found together in the name: a form of
the first name with a form of the surname (or the company name), and two words of one
compound name ("Mohamed Amine"), written "&=benali&=mohamed" whatever the order typed.
A whole-country query of two words or more asks first for one of the pair keys of its first
two words: one short posting list.
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
PAIR_MARK = "&"
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

    def forms(self, *, exact: bool = False) -> list[str]:
        """The forms this word is found by: its spelling as typed (normalised), and unless
        exact its phonetic keys too.
        """
        forms = [WORD_MARK + self.text]
        if not exact:
            forms.extend(SOUND_MARK + sound for sound in self.sounds())
        return forms

    def keys(self, scopes: Sequence[str], *, exact: bool = False) -> list[str]:
        """The name keys that match this word in the given scopes (wilaya codes or COUNTRY)."""
        return [scope + form for scope in scopes for form in self.forms(exact=exact)]


def pair_key(first: str, second: str) -> str:
    """The key of two forms found together in a name, the same in either order."""
    low, high = sorted((first, second))
    return PAIR_MARK + low + PAIR_MARK + high


def pair_keys(first: QueryWord, second: QueryWord, *, exact: bool = False) -> list[str]:
    """The whole-country pair keys that match two query words together."""
    return list(
        dict.fromkeys(
            pair_key(one, other)
            for one in first.forms(exact=exact)
            for other in second.forms(exact=exact)
        )
    )


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
    """The exact keys a customer is found by: words and phonetic keys, for the country and
    the wilaya, and the whole-country pair keys.

    Holds the same terms as customer_search_text; None when there is no name at all.
    """
    words, sounds = search_forms(first_name, last_name, first_name_ar, last_name_ar, company_name)
    forms = [WORD_MARK + word for word in words] + [SOUND_MARK + sound for sound in sounds]
    if not forms:
        return None
    keys = [scope + form for scope in (COUNTRY, wilaya_code) for form in forms]
    keys.extend(
        _pair_keys(
            first_names=(first_name, first_name_ar),
            last_names=(last_name, last_name_ar),
            company_name=company_name,
        )
    )
    return keys


def _pair_keys(
    *,
    first_names: tuple[str | None, ...],
    last_names: tuple[str | None, ...],
    company_name: str | None,
) -> list[str]:
    """The pair keys of a customer: across the first name, the surname and the company name,
    and within each compound name. Only forms a query word can have are paired (two
    letters or symbols at least, no particle).
    """
    groups = [_pairable(*names) for names in (first_names, last_names, (company_name,))]
    pairs: dict[str, None] = {}
    for index, group in enumerate(groups):
        for other in groups[index + 1 :]:
            pairs.update(dict.fromkeys(pair_key(a, b) for a in group for b in other))
    for name in (*first_names, *last_names, company_name):
        if name and sum(word not in PARTICLES for word in normalize_name(name).split()) > 1:
            forms = _pairable(name)
            pairs.update(
                dict.fromkeys(
                    pair_key(a, b) for index, a in enumerate(forms) for b in forms[index + 1 :]
                )
            )
    return list(pairs)


def _pairable(*names: str | None) -> list[str]:
    words, sounds = search_forms(*names)
    return [WORD_MARK + word for word in words if len(word) >= 2 and word not in PARTICLES] + [
        SOUND_MARK + sound for sound in sounds if len(sound) >= 2
    ]


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
