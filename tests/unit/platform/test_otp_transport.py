"""The one-time code in transit (sila_common.otp_transport): sealed for notify alone, bound to
the customer and the number, opened only with a key notify holds, never leaking the code."""

from __future__ import annotations

import base64

import pytest

from sila_common.otp_transport import (
    DEV_KEY,
    PUBLIC_KEYS,
    CodeUnreadable,
    TransportKey,
    TransportKeyring,
    is_public,
    parse_previous_keys,
)

CUSTOMER = "9b1f0c4e-5d7a-4c2e-8a51-3f6b2d9e0a17"
PHONE = "+213661234567"
SECRET = "a private transport key from the vault"


def test_a_sealed_code_opens_with_the_shared_key_and_shows_nothing_of_the_code() -> None:
    key = TransportKey.from_secret(SECRET)
    sealed = key.seal("042917", customer_id=CUSTOMER, phone=PHONE)
    assert sealed.startswith("v1.") and "042917" not in sealed
    # Two seals of one code differ (a fresh nonce each time): equal codes do not show.
    assert sealed != key.seal("042917", customer_id=CUSTOMER, phone=PHONE)
    keys = TransportKeyring([SECRET])
    assert keys.open(sealed, key_id=key.key_id, customer_id=CUSTOMER, phone=PHONE) == "042917"
    # The key id names the key without giving it away, and differs between keys.
    assert SECRET not in key.key_id and len(key.key_id) == 16
    assert key.key_id != TransportKey.from_secret(SECRET + "!").key_id


def flipped(sealed: str, at: int) -> str:
    prefix, _, payload = sealed.partition(".")
    raw = bytearray(base64.urlsafe_b64decode(payload))
    raw[at] ^= 0x80
    return f"{prefix}.{base64.urlsafe_b64encode(bytes(raw)).decode()}"


def test_a_sealed_code_altered_moved_or_under_another_key_does_not_open() -> None:
    key = TransportKey.from_secret(SECRET)
    sealed = key.seal("042917", customer_id=CUSTOMER, phone=PHONE)
    keys = TransportKeyring([SECRET])
    bad: list[tuple[str, str, str, str]] = [
        (flipped(sealed, 0), key.key_id, CUSTOMER, PHONE),  # the nonce
        (flipped(sealed, 14), key.key_id, CUSTOMER, PHONE),  # the ciphertext
        (flipped(sealed, -1), key.key_id, CUSTOMER, PHONE),  # the tag
        (sealed, key.key_id, CUSTOMER, "+213669999999"),  # moved to another number
        (sealed, key.key_id, "another-customer", PHONE),  # or to another customer
        (sealed, "0" * 16, CUSTOMER, PHONE),  # a key id notify lacks
        (sealed[:20], key.key_id, CUSTOMER, PHONE),  # truncated
        ("v2." + sealed[3:], key.key_id, CUSTOMER, PHONE),  # unknown version
        ("v1.!!not base64!!", key.key_id, CUSTOMER, PHONE),
        ("", key.key_id, CUSTOMER, PHONE),
    ]
    for text, key_id, customer, phone in bad:
        with pytest.raises(CodeUnreadable) as refused:
            keys.open(text, key_id=key_id, customer_id=customer, phone=phone)
        assert "042917" not in str(refused.value)
        assert sealed not in str(refused.value)
    # Sealed under an attacker's own key, even with that key's id: it does not open.
    foreign = TransportKey.from_secret("an attacker's key of their own")
    with pytest.raises(CodeUnreadable, match="lacks"):
        keys.open(
            foreign.seal("111111", customer_id=CUSTOMER, phone=PHONE),
            key_id=foreign.key_id,
            customer_id=CUSTOMER,
            phone=PHONE,
        )
    # A text that opens but is not a code (say, a template injection) is refused too.
    with pytest.raises(CodeUnreadable, match="not a code"):
        keys.open(
            key.seal("{expires_at}", customer_id=CUSTOMER, phone=PHONE),
            key_id=key.key_id,
            customer_id=CUSTOMER,
            phone=PHONE,
        )


def test_a_rotation_keeps_the_codes_in_flight_readable_until_the_old_key_is_dropped() -> None:
    old, new = (
        TransportKey.from_secret("the old transport key 0001"),
        TransportKey.from_secret("the new transport key 0002"),
    )
    in_flight = old.seal("555123", customer_id=CUSTOMER, phone=PHONE)
    during = TransportKeyring(
        ["the new transport key 0002", *parse_previous_keys(" the old transport key 0001 ,")]
    )
    assert during.current.key_id == new.key_id
    assert during.key_ids == {old.key_id, new.key_id}
    assert during.open(in_flight, key_id=old.key_id, customer_id=CUSTOMER, phone=PHONE) == "555123"
    after = TransportKeyring(["the new transport key 0002"])
    with pytest.raises(CodeUnreadable):
        after.open(in_flight, key_id=old.key_id, customer_id=CUSTOMER, phone=PHONE)


def test_published_and_short_keys_are_public() -> None:
    assert DEV_KEY in PUBLIC_KEYS
    assert all(is_public(k) for k in PUBLIC_KEYS)
    assert is_public("short")
    assert not is_public(SECRET)
    with pytest.raises(ValueError, match="no OTP transport key"):
        TransportKeyring([])
