"""Voucher codes: long, random, shown once, stored only as a keyed hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets

CODE_DIGITS = 16


def new_code() -> str:
    """16 random digits (10^16 codes for each one sold): what the scratch card shows."""
    return "".join(str(secrets.randbelow(10)) for _ in range(CODE_DIGITS))


def normalise(code: str) -> str:
    return "".join(c for c in code if c.isdigit())


def code_hash(code: str, pepper: str) -> str:
    return hmac.new(pepper.encode(), normalise(code).encode(), hashlib.sha256).hexdigest()


def serial(batch_number: int, index: int) -> str:
    return f"{batch_number:06d}{index:07d}"
