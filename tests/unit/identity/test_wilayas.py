"""The wilaya list shipped with the service: complete, ordered, bilingual."""

import re

import pytest

from sila_identity.domain.wilayas import (
    UnknownWilaya,
    format_wilaya_code,
    load_wilayas,
    wilaya_by_code,
)

ARABIC_WORDS = re.compile(r"[\u0600-\u06FF]+( [\u0600-\u06FF]+)*")


def test_the_58_wilayas_in_force_are_listed_with_codes_01_to_58_in_order():
    codes = [wilaya.code for wilaya in load_wilayas()]

    assert codes == [f"{code:02d}" for code in range(1, 59)]


def test_tizi_ouzou_is_15_and_algiers_is_16():
    assert wilaya_by_code("15").name_fr == "Tizi Ouzou"
    assert wilaya_by_code(16).name_fr == "Alger"
    assert wilaya_by_code("16").name_ar == "الجزائر"


def test_every_wilaya_has_an_arabic_name_in_arabic_script():
    for wilaya in load_wilayas():
        assert ARABIC_WORDS.fullmatch(wilaya.name_ar), wilaya


def test_every_wilaya_has_a_french_name_in_latin_script():
    for wilaya in load_wilayas():
        assert wilaya.name_fr and not ARABIC_WORDS.search(wilaya.name_fr), wilaya


def test_french_names_keep_their_accents():
    assert wilaya_by_code("06").name_fr == "Béjaïa"


def test_callers_cannot_corrupt_the_shared_list():
    load_wilayas().clear()

    assert len(load_wilayas()) == 58


@pytest.mark.parametrize(
    ("code", "expected"), [("6", "06"), (6, "06"), (" 58 ", "58"), ("69", "69")]
)
def test_wilaya_codes_are_written_on_two_digits(code, expected):
    assert format_wilaya_code(code) == expected


@pytest.mark.parametrize("code", ["0", "70", "1a", "", "-1", "٠٦"])
def test_something_that_cannot_be_a_wilaya_code_is_refused(code):
    with pytest.raises(UnknownWilaya):
        format_wilaya_code(code)


def test_a_code_created_by_law_but_not_yet_in_the_data_is_unknown():
    with pytest.raises(UnknownWilaya, match="no wilaya has the code 59"):
        wilaya_by_code("59")
