"""The geography reference and the matching of communes typed by people."""

from __future__ import annotations

import pytest

from sila_common.geography import (
    candidates_for,
    match_commune,
    name_skeleton,
    normalise_name,
    reference,
)


def test_the_reference_holds_the_map_of_the_2025_reform() -> None:
    ref = reference()
    assert (len(ref.wilayas), len(ref.dairas), len(ref.communes)) == (69, 591, 1541)
    assert ref.wilayas["64"].parent_code == "28" and ref.wilayas["64"].established_on
    assert ref.wilaya_name("64", "ar") == "بوسعادة"
    assert ref.wilaya_name("16", "en") == "Algiers"
    moved = {c.former_wilaya_code for c in ref.communes.values() if c.wilaya_code == "64"}
    assert moved == {"28"}


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("Bou-Saâda", "bousaada"),
        ("BOU SAADA", "bousaada"),
        ("M'Sila", "msila"),
        ("بو سعادة", "بوسعاده"),
        ("أولاد دراج", "اولاددراج"),
    ],
)
def test_case_accents_spaces_apostrophes_and_arabic_letter_forms_do_not_make_two_places(
    typed: str, expected: str
) -> None:
    assert normalise_name(typed) == expected


def test_transliteration_variants_share_a_skeleton() -> None:
    assert name_skeleton("Aïn Ousséra") == name_skeleton("Ain Oussera")
    assert name_skeleton("Djelfa") == name_skeleton("Jelfa")
    assert name_skeleton("Bou Saada") == name_skeleton("Bousaâda")
    assert name_skeleton("Bou Saada") != name_skeleton("Barika")


def test_a_customer_of_msila_may_live_in_a_commune_carved_out_into_bou_saada() -> None:
    ref = reference()
    candidates = candidates_for(ref, "28")
    found, _ = match_commune("بوسعادة", candidates)
    assert found is not None and found.wilaya_code == "64"
    found, _ = match_commune("Bousaada", candidates)
    assert found is not None and found.name_fr == "Bou Saada"


def test_an_ambiguous_or_unknown_commune_is_not_guessed() -> None:
    ref = reference()
    everywhere = list(ref.communes.values())
    found, maybe = match_commune("Sidi Ameur", everywhere)
    assert found is None and len(maybe) >= 2
    assert match_commune("Atlantis", everywhere) == (None, [])
    assert match_commune("", everywhere) == (None, [])
