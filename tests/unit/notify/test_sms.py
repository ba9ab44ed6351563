"""SMS encoding, length and splitting."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sila_notify.domain.sms import (
    GSM7_BASIC,
    GSM7_EXTENSION,
    SmsCount,
    count_sms,
    is_gsm7,
    split_sms,
)

ARABIC_LETTER = "ب"
EMOJI = "😀"  # U+1F600, outside the BMP: a surrogate pair in UTF-16


def test_default_alphabet_has_127_characters_and_extension_has_10() -> None:
    assert len(GSM7_BASIC) == 127
    assert len(GSM7_EXTENSION) == 10
    assert not GSM7_BASIC & GSM7_EXTENSION


def test_plain_french_with_gsm_accents_stays_gsm7() -> None:
    text = "Votre réclamation TT-2026-000123 a été traitée. Merci à vous!"
    assert count_sms(text) == SmsCount("GSM-7", len(text), 1, 160, 160 - len(text))


@pytest.mark.parametrize("char", ["ê", "ç", "’", "\u00a0", "\u202f", "«"])
def test_common_french_typography_outside_the_alphabet_forces_ucs2(char: str) -> None:
    assert count_sms(f"Facture {char}").encoding == "UCS-2"


def test_single_euro_sign_costs_two_septets() -> None:
    result = count_sms("€")
    assert (result.encoding, result.units, result.remaining_in_segment) == ("GSM-7", 2, 158)


@pytest.mark.parametrize("char", sorted(GSM7_EXTENSION))
def test_every_extension_character_costs_two_septets(char: str) -> None:
    assert count_sms("a" + char).units == 3


def test_160_gsm_characters_fit_one_sms() -> None:
    assert count_sms("a" * 160) == SmsCount("GSM-7", 160, 1, 160, 0)


def test_161_gsm_characters_make_two_parts_of_153() -> None:
    result = count_sms("a" * 161)
    assert result == SmsCount("GSM-7", 161, 2, 153, 153 - 8)
    assert [len(part) for part in split_sms("a" * 161)] == [153, 8]


def test_159_characters_plus_a_euro_overflow_into_two_parts() -> None:
    assert count_sms("a" * 159 + "€").segments == 2


def test_escape_pair_is_never_split_across_parts() -> None:
    text = "a" * 152 + "€" + "b" * 10
    parts = split_sms(text)
    assert parts == ["a" * 152, "€" + "b" * 10]
    assert count_sms(text) == SmsCount("GSM-7", 164, 2, 153, 153 - 12)


def test_arabic_text_of_70_characters_fits_one_sms() -> None:
    assert count_sms(ARABIC_LETTER * 70) == SmsCount("UCS-2", 70, 1, 70, 0)


def test_arabic_text_of_71_characters_makes_two_parts_of_67() -> None:
    assert count_sms(ARABIC_LETTER * 71) == SmsCount("UCS-2", 71, 2, 67, 67 - 4)
    assert [len(part) for part in split_sms(ARABIC_LETTER * 71)] == [67, 4]


def test_134_arabic_characters_fill_exactly_two_parts() -> None:
    assert count_sms(ARABIC_LETTER * 134) == SmsCount("UCS-2", 134, 2, 67, 0)


def test_one_arabic_letter_turns_a_latin_text_into_ucs2() -> None:
    result = count_sms("a" * 100 + ARABIC_LETTER)
    assert (result.encoding, result.units, result.segments) == ("UCS-2", 101, 2)


def test_in_ucs2_the_euro_sign_costs_one_unit() -> None:
    assert count_sms(ARABIC_LETTER + "€").units == 2


def test_emoji_outside_the_bmp_counts_two_utf16_units() -> None:
    assert count_sms(EMOJI).units == 2
    assert count_sms("a" * 68 + EMOJI) == SmsCount("UCS-2", 70, 1, 70, 0)
    assert count_sms("a" * 69 + EMOJI).segments == 2


def test_surrogate_pair_is_never_split_across_parts() -> None:
    text = "a" * 66 + EMOJI + "b" * 5
    parts = split_sms(text)
    assert parts == ["a" * 66, EMOJI + "b" * 5]
    assert count_sms(text) == SmsCount("UCS-2", 73, 2, 67, 67 - 7)


def test_empty_text_costs_no_sms() -> None:
    assert count_sms("") == SmsCount("GSM-7", 0, 0, 160, 160)
    assert split_sms("") == []


def test_short_text_is_its_own_single_part() -> None:
    assert split_sms("Bonjour") == ["Bonjour"]


def test_newlines_and_carriage_returns_are_in_the_alphabet() -> None:
    assert is_gsm7("ligne 1\r\nligne 2")


gsm_text = st.text(alphabet=sorted(GSM7_BASIC | GSM7_EXTENSION), max_size=600)
any_text = st.text(max_size=400)


def units_of(part: str, encoding: str) -> int:
    if encoding == "GSM-7":
        return sum(2 if char in GSM7_EXTENSION else 1 for char in part)
    return len(part.encode("utf-16-le")) // 2


@given(gsm_text | any_text)
def test_parts_join_back_to_the_text_and_each_fits_its_limit(text: str) -> None:
    parts = split_sms(text)
    result = count_sms(text)
    assert "".join(parts) == text
    assert len(parts) == result.segments
    assert sum(units_of(part, result.encoding) for part in parts) == result.units
    assert all(units_of(part, result.encoding) <= result.per_segment for part in parts)
    if parts:
        last = units_of(parts[-1], result.encoding)
        assert result.remaining_in_segment == result.per_segment - last


@given(st.text(alphabet=sorted(GSM7_BASIC), min_size=1, max_size=1000))
def test_basic_gsm_text_needs_ceil_of_length_over_153_parts_beyond_160(text: str) -> None:
    expected = 1 if len(text) <= 160 else -(-len(text) // 153)
    assert count_sms(text).segments == expected
