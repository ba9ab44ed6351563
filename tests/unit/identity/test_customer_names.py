"""Names as stored: the right script, single-spaced; and the name agents see."""

from __future__ import annotations

import pytest

from sila_identity.domain.customers import InvalidName, clean_name, display_name


def test_names_are_trimmed_and_single_spaced_with_accents_and_apostrophes_kept() -> None:
    assert clean_name("  Aït   Saïd ", script="latin") == "Aït Saïd"
    assert clean_name("Ben M'hidi", script="latin") == "Ben M'hidi"
    assert clean_name("آيت  سعيد", script="arabic") == "آيت سعيد"


@pytest.mark.parametrize(
    ("value", "script"),
    [
        ("Karim2", "latin"),
        ("كريم", "latin"),
        ("Karim", "arabic"),
        ("   ", "latin"),
        ("K@rim", "latin"),
    ],
)
def test_names_in_the_wrong_script_or_with_symbols_are_refused(value: str, script: str) -> None:
    with pytest.raises(InvalidName):
        clean_name(value, script=script)


def test_the_company_name_comes_first_then_the_latin_then_the_arabic_name() -> None:
    assert display_name(first_name="A", last_name="B", company_name="SARL C") == "SARL C"
    assert display_name(first_name="Karim", last_name="Kaci", first_name_ar="كريم") == "Karim Kaci"
    assert (
        display_name(first_name=None, last_name=None, first_name_ar="كريم", last_name_ar="قاسي")
        == "كريم قاسي"
    )
