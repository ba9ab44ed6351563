"""Algerian identifiers: only their form is checked, and the form is checked strictly."""

import pytest

from sila_identity.domain.national_id import (
    InvalidNationalId,
    InvalidTaxId,
    InvalidTradeRegisterNumber,
    TradeRegisterNumber,
    mask_nin,
    normalize_nif,
    normalize_nin,
    parse_trade_register_number,
    split_nin,
)

NIN = "109951500012345601"


@pytest.mark.parametrize(
    "raw",
    [
        NIN,
        "1099 5150 0012 3456 01",
        " 109-951-500-012-345-601 ",
        "10.99.51.50.00.12.34.56.01",
        "١٠٩٩٥١٥٠٠٠١٢٣٤٥٦٠١",  # Arabic-Indic digits
    ],
)
def test_nin_is_accepted_with_any_grouping_and_returned_as_18_ascii_digits(raw):
    assert normalize_nin(raw) == NIN


@pytest.mark.parametrize(
    ("raw", "reason_fragment"),
    [
        ("10995150001234560", "18 digits, not 17"),
        ("1099515000123456012", "18 digits, not 19"),
        ("000000000000000000", "all zeros"),
        ("10995150001234560A", "unexpected character 'A'"),
        ("109951500O12345601", "unexpected character 'O'"),
        ("   ", "empty"),
    ],
)
def test_malformed_nin_is_rejected_with_a_reason(raw, reason_fragment):
    with pytest.raises(InvalidNationalId) as raised:
        normalize_nin(raw)

    assert reason_fragment in raised.value.reason


def test_nin_control_key_is_not_verified_because_its_algorithm_is_not_public():
    # Two numbers that differ only in the control key are both accepted: checking one
    # of them would be inventing an algorithm.
    for control_key in ("00", "37", "99"):
        assert normalize_nin(NIN[:-2] + control_key) == NIN[:-2] + control_key


def test_nin_splits_into_the_positions_of_decree_10_210():
    fields = split_nin(NIN)

    assert fields.civil_status == "10"
    assert fields.registration_year == "995"
    assert fields.birthplace_code == "1500"
    assert fields.birth_certificate_number == "01234"
    assert fields.register_series == "56"
    assert fields.control_key == "01"


def test_masked_nin_shows_only_its_last_four_digits():
    assert mask_nin(NIN) == "*" * 14 + "5601"


@pytest.mark.parametrize(
    "raw",
    [
        "16/00-1234567 B 18",
        "16/00 - 1234567 B 18",
        "16/00-1234567B18",
        "16 / 00 1234567 b 18",
        "16/00–1234567 B 18",  # en dash from a word processor
    ],
)
def test_rc_number_is_read_leniently_and_printed_in_the_cnrc_layout(raw):
    number = parse_trade_register_number(raw)

    assert number == TradeRegisterNumber(
        wilaya_code="16", segment="00", sequence="1234567", letter="B", year="18"
    )
    assert str(number) == "16/00-1234567 B 18"


def test_rc_number_of_a_tizi_ouzou_trader_keeps_its_letter_a():
    number = parse_trade_register_number("15/00-0012345 A 09")

    assert (number.wilaya_code, number.letter, number.year) == ("15", "A", "09")


@pytest.mark.parametrize(
    ("raw", "exception_fragment"),
    [
        ("00/00-1234567 B 18", "00 is not a wilaya code"),
        ("70/00-1234567 B 18", "70 is not a wilaya code"),
        ("16-00-1234567 B 18", "reads like"),
        ("16/00-1234 B 18", "reads like"),
        ("16/00-1234567 18", "reads like"),
        ("1234567", "reads like"),
    ],
)
def test_rc_number_without_its_structure_is_rejected(raw, exception_fragment):
    with pytest.raises(InvalidTradeRegisterNumber) as raised:
        parse_trade_register_number(raw)

    assert exception_fragment in raised.value.reason


def test_rc_number_of_a_wilaya_created_in_2025_is_accepted():
    assert parse_trade_register_number("69/00-0000001 B 26").wilaya_code == "69"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("000016001234567", "000016001234567"),
        ("0000 1600 1234 567", "000016001234567"),
        ("19971600123456700001", "19971600123456700001"),
    ],
)
def test_nif_of_15_or_20_digits_is_accepted(raw, expected):
    assert normalize_nif(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason_fragment"),
    [
        ("00001600123456", "not 14"),
        ("0000160012345678", "not 16"),
        ("000000000000000", "all zeros"),
        ("00001600123456X", "unexpected character 'X'"),
    ],
)
def test_nif_of_another_length_or_with_letters_is_rejected(raw, reason_fragment):
    with pytest.raises(InvalidTaxId) as raised:
        normalize_nif(raw)

    assert reason_fragment in raised.value.reason
