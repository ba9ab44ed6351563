"""One-time codes: shape, hashing bound to the challenge, constant-time matching."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sila_identity.domain import otp

SECRET = b"server secret"


def test_codes_are_six_digits_and_vary() -> None:
    codes = {otp.new_code() for _ in range(200)}
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert len(codes) > 150


def test_a_code_matches_only_its_own_challenge_and_secret() -> None:
    stored = otp.hash_code(SECRET, "challenge-1", "042917")
    assert otp.code_matches(SECRET, "challenge-1", "042917", stored)
    assert otp.code_matches(SECRET, "challenge-1", " 042917 ", stored)
    assert not otp.code_matches(SECRET, "challenge-2", "042917", stored)
    assert not otp.code_matches(b"other secret", "challenge-1", "042917", stored)
    assert not otp.code_matches(SECRET, "challenge-1", "042918", stored)


def test_the_stored_hash_does_not_contain_the_code() -> None:
    assert "042917" not in otp.hash_code(SECRET, "c", "042917")


def test_a_code_lives_five_minutes() -> None:
    issued = datetime(2026, 1, 1, tzinfo=UTC)
    assert otp.expires_at(issued) - issued == timedelta(minutes=5)


def test_only_six_ascii_digits_are_a_well_formed_code() -> None:
    assert otp.is_well_formed("123456")
    assert not otp.is_well_formed("12345")
    assert not otp.is_well_formed("١٢٣٤٥٦")
    assert not otp.is_well_formed("12a456")
