"""What the name index holds and what a typed query looks for."""

from __future__ import annotations

from sila_identity.domain.names import phonetic_key
from sila_identity.domain.search import customer_search_text, query_words


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
