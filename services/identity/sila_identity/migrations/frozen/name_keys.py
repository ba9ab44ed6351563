"""The name keys of customers as revisions 0003 and 0004 computed them (frozen copies).

This is ``sila_identity.domain.names`` and ``customer_name_keys`` of
``sila_identity.domain.search`` as they were when those revisions were written
(commits a9efed4 and 40ff41c). Never change it: a database migrated today must get what
one migrated then got. The live search may move on; a new revision re-computes the keys
with a frozen copy of its own.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

# --- Normalisation ------------------------------------------------------------------------

_TATWEEL: Final = "\u0640"

# Applied after NFKD has already split hamza and madda off alef, waw and ya (and accents
# off Latin letters) and the marks have been dropped; these are the letters that remain
# distinct code points.
_LETTER_UNIFICATION: Final = str.maketrans(
    {
        "\u0671": "\u0627",  # alef wasla -> alef
        "\u0649": "\u064a",  # alef maqsura -> ya
        "\u0629": "\u0647",  # ta marbuta -> ha
        "\u06a9": "\u0643",  # Persian keheh -> kaf
        "\u06cc": "\u064a",  # Persian/Urdu ya -> ya
        "\u06be": "\u0647",  # heh doachashmee -> ha
        "\u06c1": "\u0647",  # heh goal -> ha
        _TATWEEL: "",
        "œ": "oe",
        "æ": "ae",
        "ø": "o",
        "ł": "l",
        "đ": "d",
        "ı": "i",
    }
)


def normalize_name(text: str) -> str:
    """The written form used to compare and index a name, in either script.

    Latin: case-folded, accents removed, hyphens and apostrophes turned into spaces
    ("Aït-Saïd", "AIT SAID" -> "ait said"). Arabic: harakat and tatweel removed, alef
    variants to ا, ؤ to و, ئ and ى to ي, ة to ه, Persian ک and ی to ك and ي.
    Anything that is not a letter separates words; runs of spaces collapse.
    """
    text = unicodedata.normalize("NFKC", text).casefold()
    decomposed = unicodedata.normalize("NFKD", text)
    kept: list[str] = []
    for char in decomposed:
        category = unicodedata.category(char)
        if category.startswith("M"):
            continue  # accents, harakat, hamza and madda signs
        if category == "Lm" and char != _TATWEEL:
            continue  # modifier letters: ʿ ʾ ʼ used as ayn, hamza or apostrophe inside a word
        kept.append(char if category.startswith("L") else " ")
    unified = "".join(kept).translate(_LETTER_UNIFICATION)
    return " ".join(unified.split())


# --- Phonetic key -------------------------------------------------------------------------
#
# A name becomes a list of symbols: consonant classes ("k", "sh", ...) and four vowel-like
# markers. Only the first symbol of the whole name may be a vowel (written "a", whatever
# the vowel was) or a semivowel ("w", "y"); every other vowel, و and ي is dropped, since
# French transliteration writes vowels Arabic leaves out and vice versa. Doubled
# consonants are collapsed (Mohammed = Mohamed) and word breaks ignored (Ben Ali = Benali).
# Known misses, kept because fixing them would merge more distinct names than they join:
# an article glued to a Latin name ("Elarbi" vs "El Arbi"), the Eastern "Abdel Rahman"
# (l not assimilated), a ه typed in place of a final ة ("فاطمه"), and "Otmane" (ث as t).

_VOWEL: Final = "V"
_OU: Final = "OU"  # French "ou": a vowel, but "w" at the start before a vowel (Ouahiba)
_W: Final = "W"
_Y: Final = "Y"
_VOWEL_LIKE: Final = frozenset({_VOWEL, _OU, _W, _Y})

_ARABIC_SYMBOLS: Final[dict[str, str]] = {
    "ا": _VOWEL,
    "ء": _VOWEL,
    "ع": _VOWEL,  # 'ain is not written in French transliteration (Omar, Said, Boualem)
    "و": _W,
    "ي": _Y,
    "ب": "b",
    "پ": "b",
    "ت": "t",
    "ط": "t",
    "ث": "th",  # as "t" + "h" in Latin: Athmane, while Fethi (فتحي) gives the same string
    "ج": "j",
    "چ": "j",
    "ح": "h",
    "ه": "h",
    "خ": "kh",
    "د": "d",
    "ض": "d",
    "ذ": "d",
    "ر": "r",
    "ز": "z",
    "ظ": "z",
    "ژ": "z",
    "س": "s",
    "ص": "s",
    "ش": "sh",
    "غ": "gh",
    "ف": "f",
    "ق": "k",
    "ك": "k",
    "ڤ": "k",  # Algerian letter for the "g" of Guelma, which French spelling writes g
    "گ": "k",
    "ل": "l",
    "م": "m",
    "ن": "n",
}
_ARABIC_SUN_LETTERS: Final = frozenset("تثدذرزسشصضطظلن")
_SUN_SYMBOLS: Final = frozenset({"t", "th", "d", "r", "z", "s", "sh", "l", "n"})

_LATIN_DIGRAPHS: Final[dict[str, tuple[str, ...]]] = {
    "dj": ("j",),
    "ch": ("sh",),
    "sh": ("sh",),
    "kh": ("kh",),
    "gh": ("gh",),
    "ph": ("f",),
    "dh": ("d",),  # ذ and ض: Ramdhane = Ramdane
    "ou": (_OU,),
}
_LATIN_LETTERS: Final[dict[str, tuple[str, ...]]] = {
    "a": (_VOWEL,),
    "e": (_VOWEL,),
    "i": (_VOWEL,),
    "o": (_VOWEL,),
    "u": (_VOWEL,),
    "y": (_Y,),
    "w": (_W,),
    "b": ("b",),
    "p": ("b",),
    "d": ("d",),
    "f": ("f",),
    "v": ("f",),
    "h": ("h",),
    "j": ("j",),
    "k": ("k",),
    "q": ("k",),
    "l": ("l",),
    "m": ("m",),
    "n": ("n",),
    "r": ("r",),
    "s": ("s",),
    "t": ("t",),
    "x": ("k", "s"),
    "z": ("z",),
}
_FRONT_VOWELS: Final = frozenset("eiy")

_LATIN_ARTICLES: Final = frozenset({"el", "al", "l"})
_LATIN_SON_OF: Final = frozenset({"ibn", "bin"})
_ARABIC_ARTICLE: Final = "ال"
_ARABIC_SON_OF: Final = "ابن"
# Compounds often typed without the space before the article.
_GLUED_ARABIC_HEAD: Final = "عبد"
_GLUED_ARABIC_TAIL: Final = "الدين"
_HAMZA_INITIAL: Final = re.compile(r"(?<!\w)[أإآ]")
# Words that make a name compound but do not identify anyone when searched alone.
_PARTICLES: Final = frozenset(
    {
        "el",
        "al",
        "l",
        "ben",
        "bin",
        "ibn",
        "ait",
        "abd",
        "eddine",
        "بن",
        "عبد",
        "ايت",
        "ءيت",
        "الدين",
    }
)


def phonetic_key(name: str) -> str:
    """A coarse consonant skeleton shared by the Arabic and French spellings of a name.

    "محمد", "Mohamed", "Mohammed", "Muhammad" -> "mhmd"; "عمر", "Omar" -> "amr";
    "بن علي", "Ben Ali", "Benali" -> "bnl". Returns "" for a name with no letter it knows.
    """
    tokens = _phonetic_tokens(name)
    symbols: list[str] = []
    for index, token in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        symbols.extend(_token_symbols(token, following))
    return _skeleton(symbols)


def names_sound_alike(first: str, second: str) -> bool:
    """True when two names, in any script, have the same non-empty phonetic key."""
    key = phonetic_key(first)
    return bool(key) and key == phonetic_key(second)


def search_terms(
    first_name: str,
    last_name: str,
    first_name_ar: str | None = None,
    last_name_ar: str | None = None,
) -> str:
    """The text to index for finding a customer by name, whatever script the agent types.

    Holds the normalised names, the phonetic key of each name and of each word of a
    compound name ("Ait Said" also gives the key of "Said"), each term once. Search
    queries should go through normalize_name and phonetic_key the same way.
    """
    words, keys = search_forms(first_name, last_name, first_name_ar, last_name_ar)
    return " ".join(dict.fromkeys([*words, *keys]))


def search_forms(*names: str | None) -> tuple[list[str], list[str]]:
    """The normalised words and the phonetic keys a customer is found by, each once.

    The words are every word of every name as normalize_name writes it; the keys are the
    phonetic key of each name and of each word of a compound name, particles apart
    ("Ait Said" gives the key of "Ait Said" and the key of "Said").
    """
    present = [name for name in names if name]
    words: list[str] = []
    keys: list[str] = []
    for name in present:
        words.extend(normalize_name(name).split())
    for name in present:
        keys.append(phonetic_key(name))
        tokens = _phonetic_tokens(name)
        if len(tokens) > 1:
            keys.extend(phonetic_key(token) for token in tokens if not _is_particle(token))
    return _unique(words), _unique(keys)


def _unique(terms: list[str]) -> list[str]:
    return list(dict.fromkeys(term for term in terms if term))


def _phonetic_tokens(name: str) -> list[str]:
    text = unicodedata.normalize("NFKC", name)
    # Decided before normalisation erases the difference: ة is a silent ending (Fatima,
    # فاطمة), and an alef carrying hamza (إلياس, إلهام) does not start the article ال.
    text = text.replace("ة", "ا")
    text = _HAMZA_INITIAL.sub("ء", text)
    tokens: list[str] = []
    for token in normalize_name(text).split():
        if token in _LATIN_SON_OF or token in (_ARABIC_SON_OF, "ءبن"):
            tokens.append("ben" if token.isascii() else "بن")
        elif token.startswith(_GLUED_ARABIC_HEAD + _ARABIC_ARTICLE) and len(token) > 5:
            tokens.extend((_GLUED_ARABIC_HEAD, token[len(_GLUED_ARABIC_HEAD) :]))
        elif token.endswith(_GLUED_ARABIC_TAIL) and len(token) > len(_GLUED_ARABIC_TAIL):
            tokens.extend((token[: -len(_GLUED_ARABIC_TAIL)], _GLUED_ARABIC_TAIL))
        else:
            tokens.append(token)
    return tokens


def _is_particle(word: str) -> bool:
    return word in _PARTICLES


def _token_symbols(token: str, following: str | None) -> list[str]:
    """Symbols of one word, with the article assimilated before a sun letter as in speech."""
    if token in _LATIN_ARTICLES and following is not None:
        # "El Hadi" keeps its l (الهادي); "Abd Er Rahmane" or "El Cherif" do not (الشريف).
        following_symbols = _symbols(following)
        if following_symbols[:1] and following_symbols[0] in _SUN_SYMBOLS:
            return []
        return ["l"]
    if following is not None and _is_assimilated_latin_article(token, following):
        return []  # "Et Tahar", "Es Saïd": the article already written as the sun letter
    if token.startswith(_ARABIC_ARTICLE) and len(token) > len(_ARABIC_ARTICLE) + 1:
        stem = token[len(_ARABIC_ARTICLE) :]
        article = [] if stem[0] in _ARABIC_SUN_LETTERS else ["l"]
        return article + _symbols(stem)
    return _symbols(token)


def _is_assimilated_latin_article(token: str, following: str) -> bool:
    if not (token.isascii() and 2 <= len(token) <= 3 and token[0] in "ae"):
        return False
    symbols, following_symbols = _symbols(token), _symbols(following)
    return len(symbols) == 2 and symbols[1] in _SUN_SYMBOLS and following_symbols[:1] == symbols[1:]


def _symbols(word: str) -> list[str]:
    symbols: list[str] = []
    index = 0
    while index < len(word):
        char = word[index]
        after = word[index + 1 : index + 2]
        digraph = _LATIN_DIGRAPHS.get(char + after)
        if digraph is not None:
            symbols.extend(digraph)
            index += 2
            continue
        if char == "c":
            symbols.append("s" if after and after in _FRONT_VOWELS else "k")
        elif char == "g":
            hardening_u = after == "u" and word[index + 2 : index + 3] in ("e", "i", "y")
            if hardening_u:
                symbols.append("k")  # Guelma, Guendouz: the u only hardens the g
                index += 1
            else:
                symbols.append("j" if after and after in _FRONT_VOWELS else "k")
        elif char in _LATIN_LETTERS:
            symbols.extend(_LATIN_LETTERS[char])
        elif char in _ARABIC_SYMBOLS:
            symbols.append(_ARABIC_SYMBOLS[char])
        index += 1
    return symbols


def _skeleton(symbols: list[str]) -> str:
    if not symbols:
        return ""
    first, rest = symbols[0], symbols[1:]
    if first == _OU:
        lead = ["w"] if rest[:1] and rest[0] in (_VOWEL, _OU) else ["a"]
    elif first == _VOWEL:
        lead = ["a"]
    elif first == _W:
        lead = ["w"]
    elif first == _Y:
        lead = ["y"]
    else:
        lead = [first]
    consonants = lead + [symbol for symbol in rest if symbol not in _VOWEL_LIKE]
    collapsed = [
        symbol
        for index, symbol in enumerate(consonants)
        if index == 0 or symbol != consonants[index - 1]
    ]
    return "".join(collapsed)


# --- sila_identity.domain.search, the keys only ---

SEARCH_PARTICLES = frozenset(
    {"el", "al", "l", "ben", "bin", "ibn", "ait", "abd", "eddine", "بن", "عبد", "ايت", "الدين"}
)
WORD_MARK = "="
SOUND_MARK = "#"
PAIR_MARK = "&"
COUNTRY = ""


def customer_name_keys_0003(
    *,
    wilaya_code: str,
    first_name: str | None,
    last_name: str | None,
    first_name_ar: str | None = None,
    last_name_ar: str | None = None,
    company_name: str | None = None,
) -> list[str] | None:
    """The keys as revision 0003 computed them: words and phonetic keys, country and wilaya."""
    words, sounds = search_forms(first_name, last_name, first_name_ar, last_name_ar, company_name)
    forms = [WORD_MARK + word for word in words] + [SOUND_MARK + sound for sound in sounds]
    if not forms:
        return None
    return [scope + form for scope in (COUNTRY, wilaya_code) for form in forms]


def customer_name_keys_0004(
    *,
    wilaya_code: str,
    first_name: str | None,
    last_name: str | None,
    first_name_ar: str | None = None,
    last_name_ar: str | None = None,
    company_name: str | None = None,
) -> list[str] | None:
    """The keys as revision 0004 computed them: 0003's and the whole-country pair keys."""
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


def _pair_key(first: str, second: str) -> str:
    low, high = sorted((first, second))
    return PAIR_MARK + low + PAIR_MARK + high


def _pair_keys(
    *,
    first_names: tuple[str | None, ...],
    last_names: tuple[str | None, ...],
    company_name: str | None,
) -> list[str]:
    groups = [_pairable(*names) for names in (first_names, last_names, (company_name,))]
    pairs: dict[str, None] = {}
    for index, group in enumerate(groups):
        for other in groups[index + 1 :]:
            pairs.update(dict.fromkeys(_pair_key(a, b) for a in group for b in other))
    for name in (*first_names, *last_names, company_name):
        if name and sum(word not in SEARCH_PARTICLES for word in normalize_name(name).split()) > 1:
            forms = _pairable(name)
            pairs.update(
                dict.fromkeys(
                    _pair_key(a, b) for index, a in enumerate(forms) for b in forms[index + 1 :]
                )
            )
    return list(pairs)


def _pairable(*names: str | None) -> list[str]:
    words, sounds = search_forms(*names)
    return [
        WORD_MARK + word for word in words if len(word) >= 2 and word not in SEARCH_PARTICLES
    ] + [SOUND_MARK + sound for sound in sounds if len(sound) >= 2]
