"""The wilaya list shipped with the service: complete, ordered, bilingual."""

import re

import pytest

from sila_common.geography import reference
from sila_identity.domain.wilayas import (
    UnknownWilaya,
    format_wilaya_code,
    load_wilayas,
    wilaya_by_code,
)

ARABIC_WORDS = re.compile(r"[\u0600-\u06FF]+( [\u0600-\u06FF]+)*")


def test_the_69_wilayas_in_force_since_the_2025_reform_are_listed_in_order():
    codes = [wilaya.code for wilaya in load_wilayas()]

    assert codes == [f"{code:02d}" for code in range(1, 70)]
    assert wilaya_by_code("64").name_fr == "Bou Saâda"
    assert wilaya_by_code("64").name_ar == "بوسعادة"


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

    assert len(load_wilayas()) == 69


@pytest.mark.parametrize(
    ("code", "expected"), [("6", "06"), (6, "06"), (" 58 ", "58"), ("69", "69")]
)
def test_wilaya_codes_are_written_on_two_digits(code, expected):
    assert format_wilaya_code(code) == expected


@pytest.mark.parametrize("code", ["0", "70", "1a", "", "-1", "٠٦"])
def test_something_that_cannot_be_a_wilaya_code_is_refused(code):
    with pytest.raises(UnknownWilaya):
        format_wilaya_code(code)


def test_the_map_has_69_wilayas_591_dairas_and_1541_communes_each_in_its_wilaya():
    ref = reference()

    assert (len(ref.wilayas), len(ref.dairas), len(ref.communes)) == (69, 591, 1541)
    for commune in ref.communes.values():
        assert ref.dairas[commune.daira_code].wilaya_code == commune.wilaya_code
    assert ref.splits()["28"] == ["64"]
    assert ref.splits()["17"] == ["68", "69"]
