"""One-time log-in codes: six digits, five minutes, five attempts, stored only as an HMAC.

The HMAC key is a server secret, so a leaked table does not give the codes away (a
plain hash of six digits is reversed in a millisecond).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Final

CODE_DIGITS: Final = 6
VALIDITY: Final = timedelta(minutes=5)
MAX_ATTEMPTS: Final = 5


def new_code() -> str:
    """A uniformly random code of CODE_DIGITS digits (leading zeros kept)."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def hash_code(secret: bytes, challenge_id: str, code: str) -> str:
    """The stored form of a code, bound to its challenge so two challenges never match."""
    message = f"{challenge_id}:{code.strip()}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def code_matches(secret: bytes, challenge_id: str, code: str, stored_hash: str) -> bool:
    """Compare in constant time."""
    return hmac.compare_digest(hash_code(secret, challenge_id, code), stored_hash)


def expires_at(issued_at: datetime) -> datetime:
    return issued_at + VALIDITY


def is_well_formed(code: str) -> bool:
    text = code.strip()
    return len(text) == CODE_DIGITS and text.isascii() and text.isdigit()
