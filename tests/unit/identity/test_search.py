"""What the name index holds and what a typed query looks for."""

from __future__ import annotations

from sila_identity.domain.names import phonetic_key
from sila_identity.domain.search import (
    COUNTRY,
    customer_name_keys,
    customer_search_text,
    pair_keys,
    query_words,
    search_scopes,
)


def test_the_index_holds_both_scripts_and_the_phonetic_keys() -> None:
    text = customer_search_text(
        first_name="Karim", last_name="Aït-Saïd", first_name_ar="كريم", last_name_ar="آيت سعيد"
    )
    assert text is not None
    words = text.split()
    assert {"karim", "ait", "said", "كريم", "سعيد"} <= set(words)
    assert phonetic_key("Karim") in words
    assert phonetic_key("Said") in words


def test_a_company_is_indexed_by_its_name_and_a_nameless_customer_not_at_all() -> None:
    text = customer_search_text(first_name=None, last_name=None, company_name="Sonatrach")
    assert text is not None and "sonatrach" in text.split()
    assert customer_search_text(first_name=None, last_name=None) is None


def test_a_query_keeps_the_words_that_filter_with_their_phonetic_keys() -> None:
    words = query_words("Mohamed El Aïd Ben Ali")
    assert [w.text for w in words] == ["mohamed", "aid", "ali"]
    assert words[0].key == phonetic_key("محمد")


def test_an_arabic_query_meets_the_french_spelling_through_the_key() -> None:
    [arabic] = query_words("محمد")
    [latin] = query_words("Mouhamed")
    assert arabic.key == latin.key


def test_a_query_of_particles_or_single_letters_has_no_word() -> None:
    assert query_words("el ben a") == []


def test_the_name_keys_hold_each_word_and_phonetic_key_for_the_country_and_the_wilaya() -> None:
    keys = customer_name_keys(
        wilaya_code="15",
        first_name="Karim",
        last_name="Aït-Saïd",
        first_name_ar="كريم",
        last_name_ar="آيت سعيد",
    )
    assert keys is not None
    for form in ("=karim", "=said", "=كريم", "=سعيد", "#" + phonetic_key("Karim"), "#sd"):
        assert form in keys and "15" + form in keys
    assert len(keys) == len(set(keys))


def test_a_nameless_customer_has_no_name_keys_and_a_company_has_its_name() -> None:
    assert customer_name_keys(wilaya_code="16", first_name=None, last_name=None) is None
    company = customer_name_keys(
        wilaya_code="16", first_name=None, last_name=None, company_name="Sonatrach"
    )
    assert company is not None and "16=sonatrach" in company


def test_a_query_word_looks_for_its_spelling_then_also_its_phonetic_keys() -> None:
    [word] = query_words("Mohammed")
    assert word.keys(["16"], exact=True) == ["16=mohammed"]
    assert word.keys([COUNTRY, "31"]) == ["=mohammed", "#mhmd", "31=mohammed", "31#mhmd"]


def test_a_word_after_a_particle_also_looks_for_the_key_of_the_compound() -> None:
    [word] = query_words("بن حديد")
    assert word.joined_key == phonetic_key("Benhadid")
    assert "#" + phonetic_key("Benhadid") in word.keys([COUNTRY])
    [alone] = query_words("Hadid")
    assert alone.joined_key == ""


def test_the_same_name_in_any_spelling_shares_a_key_with_the_customer() -> None:
    customer = customer_name_keys(
        wilaya_code="16", first_name="Mohamed", last_name="Benali", first_name_ar="محمد"
    )
    assert customer is not None
    for typed in ("Mohammed", "Mouhamed", "محمد", "MOHAMED", "Ben Ali", "بن علي"):
        [word] = query_words(typed)
        assert set(word.keys(["16"])) & set(customer), typed


def test_the_scope_is_the_wilaya_asked_for_else_the_callers_else_the_country() -> None:
    assert search_scopes("16", ["*"]) == ["16"]
    assert search_scopes("16", ["15", "16"]) == ["16"]
    assert search_scopes("16", ["15"]) == []
    assert search_scopes(None, ["31", "15"]) == ["15", "31"]
    assert search_scopes(None, ["*"]) == [COUNTRY]


def test_a_query_word_has_the_key_of_the_name_as_typed_so_a_final_ta_marbuta_stays_silent() -> None:
    [amina] = query_words("أمينة")
    assert amina.text == "امينه"
    assert amina.key == phonetic_key("Amina") == phonetic_key("أمينة")


def test_a_first_name_and_a_surname_typed_together_share_a_pair_key_with_the_customer() -> None:
    customer = customer_name_keys(
        wilaya_code="16",
        first_name="Mohamed",
        last_name="Benali",
        first_name_ar="محمد",
        last_name_ar="بن علي",
    )
    assert customer is not None
    for typed in ("Mohamed Benali", "benali mohamed", "Mohammed Ben Ali", "محمد بن علي"):
        first, second = query_words(typed)
        assert set(pair_keys(first, second)) & set(customer), typed
    first, second = query_words("Mohamed Benali")
    assert set(pair_keys(first, second, exact=True)) == {"&=benali&=mohamed"}


def test_two_words_of_one_compound_name_are_paired_but_a_particle_is_not() -> None:
    customer = customer_name_keys(wilaya_code="09", first_name="Mohamed Amine", last_name="Kaci")
    assert customer is not None
    assert "&=amine&=mohamed" in customer
    assert "&=kaci&=mohamed" in customer and "&=amine&=kaci" in customer
    simple = customer_name_keys(wilaya_code="15", first_name="Karim", last_name="Aït Saïd")
    assert simple is not None
    assert "&=karim&=said" in simple
    assert not [key for key in simple if "=ait" in key and key.startswith("&")]
    assert "&=ait&=said" not in simple


def test_the_pair_keys_are_for_the_whole_country_only() -> None:
    keys = customer_name_keys(wilaya_code="16", first_name="Omar", last_name="Kaci")
    assert keys is not None
    assert [key for key in keys if "&" in key] == [key for key in keys if key.startswith("&")]
