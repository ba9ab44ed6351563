"""Customer lifecycle, preferred language and contract numbers that catch typing mistakes."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sila_identity.domain.customers import (
    ContractNumber,
    CustomerKind,
    CustomerStatus,
    InvalidContractNumber,
    InvalidStatusTransition,
    Language,
    UnsupportedLanguage,
    allowed_transitions,
    can_transition,
    damm_check_digit,
    ensure_transition,
    is_damm_valid,
    make_contract_number,
    parse_contract_number,
)

Status = CustomerStatus


def test_customer_kinds_are_residential_and_professional():
    assert {kind.value for kind in CustomerKind} == {"residential", "professional"}


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (Status.PROSPECT, Status.ACTIVE),
        (Status.PROSPECT, Status.CLOSED),
        (Status.ACTIVE, Status.SUSPENDED),
        (Status.ACTIVE, Status.CLOSED),
        (Status.SUSPENDED, Status.ACTIVE),
        (Status.SUSPENDED, Status.CLOSED),
    ],
)
def test_lifecycle_moves_that_happen_at_the_agency_are_allowed(current, target):
    assert can_transition(current, target)
    assert ensure_transition(current, target) is target


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (Status.PROSPECT, Status.SUSPENDED),
        (Status.CLOSED, Status.ACTIVE),
        (Status.CLOSED, Status.PROSPECT),
        (Status.ACTIVE, Status.PROSPECT),
        (Status.ACTIVE, Status.ACTIVE),
    ],
)
def test_impossible_lifecycle_moves_are_refused(current, target):
    assert not can_transition(current, target)
    with pytest.raises(
        InvalidStatusTransition, match=f"a {current} customer cannot become {target}"
    ):
        ensure_transition(current, target)


def test_a_closed_customer_is_final():
    assert allowed_transitions(Status.CLOSED) == frozenset()


@pytest.mark.parametrize(
    ("tag", "language"),
    [
        ("ar", Language.ARABIC),
        ("fr-DZ", Language.FRENCH),
        ("ar_DZ", Language.ARABIC),
        ("EN", Language.ENGLISH),
    ],
)
def test_language_tags_from_browsers_and_phones_are_understood(tag, language):
    assert Language.from_tag(tag) is language


def test_tamazight_is_not_yet_offered():
    with pytest.raises(UnsupportedLanguage, match="use ar, fr, en"):
        Language.from_tag("kab")


def test_only_arabic_is_written_right_to_left():
    assert [language for language in Language if language.is_right_to_left] == [Language.ARABIC]


def test_contract_number_carries_wilaya_year_padded_sequence_and_check_digit():
    number = make_contract_number("16", 2026, 1234)

    assert number.startswith("AT-16-2026-0001234-")
    assert is_damm_valid("1620260001234" + number[-1])


def test_contract_number_accepts_an_integer_or_single_digit_wilaya_code():
    assert make_contract_number(6, 2026, 1) == make_contract_number("06", 2026, 1)


def test_damm_check_digit_matches_the_published_example():
    # Worked example of Damm's algorithm: 572 -> check digit 4.
    assert damm_check_digit("572") == 4
    assert is_damm_valid("5724")


def test_a_contract_number_reads_back_to_its_parts():
    text = make_contract_number("15", 2025, 98765)

    assert parse_contract_number(text) == ContractNumber(
        wilaya_code="15", year=2025, sequence=98765
    )


@pytest.mark.parametrize(
    "as_typed",
    [
        str.lower,
        lambda number: number.replace("-", " "),
        lambda number: number.replace("-", ""),
        lambda number: number.removeprefix("AT-"),
        lambda number: f"  {number}  ",
    ],
    ids=["lower case", "spaces", "no separators", "no prefix", "padded"],
)
def test_a_contract_number_is_found_however_the_agent_types_it(as_typed):
    canonical = make_contract_number("16", 2026, 1234)

    assert str(parse_contract_number(as_typed(canonical))) == canonical


@given(
    wilaya=st.integers(1, 69),
    year=st.integers(2000, 2099),
    sequence=st.integers(1, 9_999_999),
    data=st.data(),
)
def test_any_single_mistyped_digit_is_refused(wilaya, year, sequence, data):
    canonical = make_contract_number(wilaya, year, sequence)
    digit_positions = [index for index, char in enumerate(canonical) if char.isdigit()]
    position = data.draw(st.sampled_from(digit_positions))
    wrong = data.draw(st.sampled_from([d for d in "0123456789" if d != canonical[position]]))
    mistyped = canonical[:position] + wrong + canonical[position + 1 :]

    with pytest.raises(InvalidContractNumber):
        parse_contract_number(mistyped)


@given(
    wilaya=st.integers(1, 69),
    year=st.integers(2000, 2099),
    sequence=st.integers(1, 9_999_999),
    data=st.data(),
)
def test_any_swap_of_two_adjacent_different_digits_is_refused(wilaya, year, sequence, data):
    digits = make_contract_number(wilaya, year, sequence).replace("AT-", "").replace("-", "")
    swappable = [i for i in range(len(digits) - 1) if digits[i] != digits[i + 1]]
    position = data.draw(st.sampled_from(swappable))
    swapped = digits[:position] + digits[position + 1] + digits[position] + digits[position + 2 :]

    with pytest.raises(InvalidContractNumber):
        parse_contract_number(swapped)


@given(wilaya=st.integers(1, 69), year=st.integers(2000, 2099), sequence=st.integers(1, 9_999_999))
def test_parsing_a_made_number_gives_back_the_same_text(wilaya, year, sequence):
    text = make_contract_number(wilaya, year, sequence)

    assert str(parse_contract_number(text)) == text


@pytest.mark.parametrize(
    ("wilaya", "year", "sequence", "reason_fragment"),
    [
        ("70", 2026, 1, "not a wilaya code"),
        ("16", 1999, 1, "year 1999"),
        ("16", 2026, 0, "sequence 0"),
        ("16", 2026, 10_000_000, "sequence 10000000"),
    ],
)
def test_contract_numbers_cannot_be_made_from_impossible_parts(
    wilaya, year, sequence, reason_fragment
):
    with pytest.raises(InvalidContractNumber) as raised:
        make_contract_number(wilaya, year, sequence)

    assert reason_fragment in raised.value.reason


@pytest.mark.parametrize(
    "text",
    ["", "AT-16-2026-1234-5", "AT-16-2026-0001234", "XX-16-2026-0001234-0", "AT-16-2026-000123A-0"],
)
def test_text_without_the_contract_number_shape_is_refused(text):
    with pytest.raises(InvalidContractNumber, match="reads like"):
        parse_contract_number(text)


def test_a_number_with_a_valid_check_digit_but_wilaya_00_is_refused():
    payload = "0020260001234"
    text = f"AT-00-2026-0001234-{damm_check_digit(payload)}"

    with pytest.raises(InvalidContractNumber, match="not a wilaya code"):
        parse_contract_number(text)
