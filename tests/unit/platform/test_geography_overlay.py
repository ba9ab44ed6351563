"""Admins' edits of the map laid over the shipped reference (what tickets and notify read)."""

from __future__ import annotations

from datetime import date

from sila_common.geography import reference
from sila_common.geography_overlay import overlaid


def test_a_renamed_a_new_and_a_retired_commune_and_a_redated_wilaya() -> None:
    shipped = reference()
    debdeb = shipped.communes["3303"]
    merged = overlaid(
        shipped,
        [
            {
                "kind": "commune",
                "code": "3303",
                "name_fr": "Debdeb Nord",
                "name_ar": "دبداب الشمالية",
                "name_en": "North Debdeb",
                "daira_code": "3302",
                "wilaya_code": "33",
                "postal_code": debdeb.postal_code,
                "active": True,
            },
            {
                "kind": "commune",
                "code": "3360",
                "name_fr": "Tin Tarabine",
                "name_ar": "تين ترابين",
                "name_en": None,
                "daira_code": "3301",
                "wilaya_code": "33",
            },
            {
                "kind": "commune",
                "code": "3304",
                "name_fr": "In Amenas",
                "name_ar": "إن أمناس",
                "active": False,
            },
            {
                "kind": "wilaya",
                "code": "64",
                "name_fr": "Bou Saâda",
                "name_ar": "بوسعادة",
                "name_en": "Bou Saada",
                "parent_code": "28",
                "established_on": "2026-01-01",
            },
        ],
    )
    assert merged.communes["3303"].names() == {
        "fr": "Debdeb Nord",
        "ar": "دبداب الشمالية",
        "en": "North Debdeb",
    }
    assert merged.communes["3303"].postal_code == debdeb.postal_code
    # English falls back to French; the new commune is one of its wilaya's.
    assert merged.communes["3360"].name("en") == "Tin Tarabine"
    assert "3360" in {c.code for c in merged.communes_of("33")}
    assert "3304" not in merged.communes
    assert merged.wilayas["64"].established_on == date(2026, 1, 1)
    assert merged.splits()["28"] == ["64"]
    # The shipped reference itself is untouched.
    assert shipped.communes["3303"].name_fr == debdeb.name_fr and "3360" not in shipped.communes


def test_no_edit_is_the_shipped_reference() -> None:
    shipped = reference()
    assert overlaid(shipped, []).communes == shipped.communes
