"""Algerian phone numbers: every usual spelling reaches the same E.164 form."""

import contextlib
import random

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from sila_identity.domain.phone import (
    InvalidPhoneNumber,
    PhoneNumber,
    mask_phone,
    normalize_phone,
)


@pytest.mark.parametrize(
    "raw",
    [
        "0550 12 34 56",
        "+213 550123456",
        "00213550123456",
        "213550123456",
        "0550123456",
        "+213 (0) 550 12 34 56",
        "0550-12-34-56",
        "0550.12.34.56",
        "  0550 12 34 56  ",
        "٠٥٥٠١٢٣٤٥٦",  # typed on an Arabic keyboard
    ],
)
def test_every_spelling_of_a_mobile_number_normalises_to_the_same_e164(raw):
    phone = normalize_phone(raw)

    assert phone.e164 == "+213550123456"
    assert phone.kind == "mobile"
    assert phone.national == "0550 12 34 56"


@pytest.mark.parametrize(
    ("raw", "e164"),
    [("0661 23 45 67", "+213661234567"), ("07 71 23 45 67", "+213771234567")],
)
def test_mobiles_of_the_06_and_07_ranges_are_mobile(raw, e164):
    phone = normalize_phone(raw)

    assert (phone.e164, phone.kind) == (e164, "mobile")


def test_tizi_ouzou_fixed_line_is_fixed_with_area_code_026():
    phone = normalize_phone("026 12 34 56")

    assert phone.e164 == "+21326123456"
    assert phone.kind == "fixed"
    assert phone.national == "026 12 34 56"


def test_algiers_fixed_line_with_brackets_and_dashes_is_fixed():
    phone = normalize_phone("(021) 23-45-67")

    assert (phone.e164, phone.kind) == ("+21321234567", "fixed")


def test_fixed_line_written_internationally_matches_its_national_spelling():
    assert normalize_phone("+213 26 12 34 56") == normalize_phone("026123456")


@pytest.mark.parametrize(
    ("raw", "reason_fragment"),
    [
        ("", "empty"),
        ("0550", "too few digits"),
        ("0550 12 34 56 78 9", "too many digits"),
        ("055O123456", "unexpected character 'O'"),  # letter O typed for a zero
        ("0550123456 ext 12", "unexpected character"),
        ("+33 6 12 34 56 78", "not an Algerian number"),
        ("0520123456", "prefix 052"),  # no mobile network was given 052
        ("0800 12 34 56", "only mobile and fixed-line"),  # toll-free
        ("+213+550123456", "'+' may only start"),
        ("---", "no digits"),
    ],
)
def test_invalid_numbers_are_rejected_with_a_reason(raw, reason_fragment):
    with pytest.raises(InvalidPhoneNumber) as raised:
        normalize_phone(raw)

    assert reason_fragment in raised.value.reason


def test_mask_keeps_country_code_and_last_three_digits():
    assert mask_phone("+213550123456") == "+213******456"


def test_mask_of_a_fixed_line_hides_all_but_the_last_three_digits():
    assert mask_phone("+21326123456") == "+213*****456"


def test_mask_never_fails_on_garbage_and_still_hides_it():
    assert mask_phone("0550 12") == "***012"
    assert mask_phone("12") == "**"
    assert mask_phone("") == ""


_national_candidates = st.tuples(
    st.sampled_from(["5", "6", "7", "2", "3", "4"]), st.integers(0, 99_999_999)
).map(lambda parts: f"0{parts[0]}{parts[1]:08d}"[: 10 if parts[0] in "567" else 9])


@given(_national_candidates)
def test_normalisation_is_idempotent_on_its_own_output(national):
    try:
        phone = normalize_phone(national)
    except InvalidPhoneNumber:
        assume(False)
        raise

    assert normalize_phone(phone.e164) == phone
    assert normalize_phone(phone.national) == phone


@given(st.text(max_size=30))
def test_arbitrary_text_gives_an_algerian_number_or_invalid_phone_number_and_nothing_else(raw):
    with contextlib.suppress(InvalidPhoneNumber):
        phone = normalize_phone(raw)
        assert phone.e164.startswith("+213")
        assert phone.kind in ("mobile", "fixed")


def _outcome(text: str) -> PhoneNumber | str:
    try:
        return normalize_phone(text)
    except InvalidPhoneNumber as exc:
        return f"refused: {exc.reason}"


def test_plain_spellings_skip_parsing_but_are_judged_as_the_parsed_ones() -> None:
    # "0…" and "+213…" with digits only are built without libphonenumber's parser; a space
    # sends the same number through it: both must agree, allocated or not.
    rng = random.Random(12)
    for _ in range(2_000):
        national = str(rng.randrange(10_000_000, 999_999_999))
        for plain in ("0" + national, "+213" + national):
            spaced = f"{plain[:-4]} {plain[-4:]}"
            assert _outcome(plain) == _outcome(spaced), plain


@pytest.mark.parametrize("zero", ["٠", "۰"])
def test_digits_of_other_scripts_give_the_ascii_e164_or_a_refusal(zero: str) -> None:
    # Arabic-Indic (٠١٢…) and Persian (۰۱۲…) digits are digits to Python's regular
    # expressions: the stored form must still be ASCII, or the unique phone and every
    # lookup by the usual spelling would miss the customer.
    rest = "".join(chr(ord(zero) + int(d)) for d in "61234567")
    for prefix in ("06", "+2136", "+213 6", "٠٦"):
        outcome = _outcome(prefix + rest)
        assert not isinstance(outcome, PhoneNumber) or outcome.e164 == "+213661234567", (
            prefix,
            outcome,
        )
