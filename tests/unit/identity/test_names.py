"""Names in Latin and Arabic script: normalised for comparison, keyed for sound-alike search."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sila_identity.domain.names import (
    names_sound_alike,
    normalize_name,
    phonetic_key,
    search_terms,
)

# --- Normalisation --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spelling", ["Aït-Saïd", "Ait Said", "AIT SAID", "ait  said", "Aït’Saïd", " Ait-said "]
)
def test_latin_spellings_differing_by_case_accents_and_separators_are_equal(spelling):
    assert normalize_name(spelling) == "ait said"


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("Chérif", "cherif"),
        ("François", "francois"),
        ("Béjaïa", "bejaia"),
        ("Œuvrard", "oeuvrard"),
        ("M'Sila", "m sila"),
    ],
)
def test_latin_accents_and_ligatures_are_flattened(written, expected):
    assert normalize_name(written) == expected


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("مُحَمَّد", "محمد"),  # harakat and shadda
        ("محـــمد", "محمد"),  # tatweel
        ("أحمد", "احمد"),
        ("إسماعيل", "اسماعيل"),
        ("آمنة", "امنه"),  # alef madda, ta marbuta
        ("ٱلله", "الله"),  # alef wasla
        ("مؤمن", "مومن"),
        ("رئيس", "رييس"),
        ("مصطفى", "مصطفي"),  # alef maqsura
        ("یوسف", "يوسف"),  # Persian ya
        ("کریم", "كريم"),  # Persian kaf and ya
        ("ﻣﺤﻤﺪ", "محمد"),  # presentation forms from old PDFs
    ],
)
def test_arabic_spelling_variants_are_unified(written, expected):
    assert normalize_name(written) == expected


def test_a_bilingual_name_keeps_both_scripts():
    assert normalize_name("Ahmed أحمد") == "ahmed احمد"


_name_alphabet = st.sampled_from(
    list("abcdeéèêëçïîôûüAÉÇÏ -'’")
    + list("ابتثجحخدذرزسشصضطظعغفقكلمنهويءآأإؤئىةـًٌٍَُِّْ")
    + ["ک", "ی", "ٱ", "ڤ"]
)
_names = st.text(alphabet=_name_alphabet, max_size=25)


@given(_names)
def test_normalisation_is_idempotent_on_names(name):
    once = normalize_name(name)

    assert normalize_name(once) == once


@given(st.text(max_size=25))
def test_normalisation_is_idempotent_on_any_text(text):
    once = normalize_name(text)

    assert normalize_name(once) == once


@given(_names)
def test_phonetic_key_ignores_case_and_latin_separators(name):
    assert phonetic_key(name.upper()) == phonetic_key(name)
    assert phonetic_key(name.replace("-", " ")) == phonetic_key(name)


# --- Phonetic key: names that must meet -----------------------------------------------------

SAME_NAME = [
    ("محمد", "Mohamed"),
    ("Mohamed", "Mohammed"),
    ("Mohamed", "Muhammad"),
    ("عمر", "Omar"),
    ("يوسف", "Youcef"),
    ("Youcef", "Youssef"),
    ("Youcef", "Yousef"),
    ("بن علي", "Benali"),
    ("Benali", "Ben Ali"),
    ("ابن علي", "Ibn Ali"),
    ("قاسي", "Kaci"),
    ("Kaci", "Kassi"),
    ("أحمد", "Ahmed"),
    ("عبد القادر", "Abdelkader"),
    ("عبدالقادر", "Abd El Kader"),
    ("عبد الرحمن", "Abderrahmane"),
    ("نور الدين", "Noureddine"),
    ("نورالدين", "Nour Eddine"),
    ("فاطمة", "Fatma"),
    ("Fatima", "Fatma"),
    ("فاطمة الزهراء", "Fatma Zohra"),
    ("عائشة", "Aïcha"),
    ("خديجة", "Khadidja"),
    ("حسين", "Hocine"),
    ("Hocine", "Houcine"),
    ("مصطفى", "Mustapha"),
    ("Mostefa", "Moustafa"),
    ("سعيد", "Saïd"),
    ("آيت سعيد", "Aït-Saïd"),
    ("Ait Said", "AIT SAID"),
    ("جمال", "Djamel"),
    ("عبد الله", "Abdallah"),
    ("Abdellah", "عبدالله"),
    ("خالد", "Khaled"),
    ("شريف", "Chérif"),
    ("الشريف", "Cherif"),
    ("لخضر", "Lakhdar"),
    ("بوعلام", "Boualem"),
    ("مزيان", "Meziane"),
    ("ياسين", "Yacine"),
    ("رضوان", "Redouane"),
    ("الهادي", "El Hadi"),
    ("العربي", "Larbi"),
    ("الأمين", "Lamine"),
    ("بلقاسم", "Belkacem"),
    ("Belkacem", "Belgacem"),
    ("وهيبة", "Ouahiba"),
    ("أسامة", "Oussama"),
    ("عثمان", "Athmane"),
    ("فتحي", "Fethi"),
    ("صالح", "Salah"),
    ("صلاح الدين", "Salaheddine"),
    ("سليمان", "Slimane"),
    ("زين الدين", "Zinedine"),
    ("قدور", "Kaddour"),
    ("إلياس", "Ilyes"),
    ("رمضان", "Ramdane"),
    ("Ramdane", "Ramdhane"),
    ("لونيس", "Lounis"),
    ("ويزة", "Ouiza"),
    ("وردية", "Ouardia"),
    ("ڤالمة", "Guelma"),
    ("عيسى", "Aïssa"),
    ("يحيى", "Yahia"),
    ("الحاج", "El Hadj"),
    ("سفيان", "Soufiane"),
    ("الطاهر", "Et Tahar"),
    ("نسيمة", "Nacima"),
    ("شعبان", "Chaabane"),
    ("إسحاق", "Ishak"),
]


@pytest.mark.parametrize(("first", "second"), SAME_NAME)
def test_spellings_of_the_same_algerian_name_share_a_phonetic_key(first, second):
    assert names_sound_alike(first, second), (phonetic_key(first), phonetic_key(second))


# --- Phonetic key: names that must stay apart ------------------------------------------------

DIFFERENT_NAMES = [
    ("Kaci", "Kadi"),
    ("قاسي", "قاضي"),
    ("Karim", "Kamel"),
    ("كريم", "كمال"),
    ("Samir", "Samia"),
    ("Nadia", "Nadir"),
    ("Hakim", "Hamid"),
    ("Farid", "Fares"),
    ("Djamel", "Kamel"),
    ("Yacine", "Yasmine"),
    ("Mourad", "Mounir"),
    ("Bouzid", "Bouziane"),
    ("Lounis", "Younes"),
    ("Ghani", "Hani"),
    ("غاني", "هاني"),
    ("Khaled", "Khalil"),
    ("Zoubir", "Zohir"),
    ("Cherif", "Chafik"),
    ("Mohamed", "Ahmed"),
    ("Benali", "Benamar"),
    ("Omar", "Amine"),
]


@pytest.mark.parametrize(("first", "second"), DIFFERENT_NAMES)
def test_different_names_keep_different_phonetic_keys(first, second):
    assert not names_sound_alike(first, second), phonetic_key(first)


def test_key_of_mohamed_is_its_consonant_skeleton():
    assert phonetic_key("Mohamed") == "mhmd"


def test_key_keeps_a_leading_vowel_as_a():
    assert phonetic_key("Omar") == phonetic_key("عمر") == "amr"


def test_name_without_any_known_letter_has_an_empty_key_and_matches_nothing():
    assert phonetic_key("---") == ""
    assert not names_sound_alike("---", "...")


# --- Search terms ------------------------------------------------------------------------------


def test_search_terms_hold_normalised_names_in_both_scripts_and_their_keys():
    terms = search_terms("Nour-Eddine", "Aït Saïd", "نور الدين", "آيت سعيد").split()

    assert terms[:8] == ["nour", "eddine", "ait", "said", "نور", "الدين", "ايت", "سعيد"]
    assert "nrdn" in terms  # the whole first name, either script
    assert "atsd" in terms  # the whole last name, either script
    assert "sd" in terms  # "Said" alone still finds "Aït Saïd"


def test_search_terms_list_each_term_once():
    terms = search_terms("Mohamed", "Benali", "محمد", "بن علي").split()

    assert len(terms) == len(set(terms))
    assert terms.count("mhmd") == 1


def test_search_terms_skip_missing_arabic_names():
    assert search_terms("Omar", "Kaci") == "omar kaci amr ks"


def test_particles_alone_are_not_indexed_as_keys():
    terms = search_terms("Youcef", "Ben Ali").split()

    assert "bn" not in terms
    assert "al" in terms  # "Ali" itself is searchable
