"""Agent passwords and partners' secrets, hashed with argon2id.

Verifying costs tens of milliseconds of CPU by design. ``PasswordChecker.verify`` runs it in
a worker thread, at most ``PasswordChecker.concurrency`` at a time: on the event loop, a
burst of unauthenticated token requests would stall every other request of the process,
and without a bound it would take every core.
"""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()
# Verifying against this when the user does not exist keeps the timing the same.
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


class PasswordChecker:
    """Verifies off the event loop, with at most ``concurrency`` verifications at once."""

    def __init__(self, concurrency: int) -> None:
        self.concurrency = concurrency
        self._slots = asyncio.Semaphore(concurrency)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        async with self._slots:
            return await asyncio.to_thread(verify_password, password_hash, password)
