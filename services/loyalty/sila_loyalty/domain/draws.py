"""Draws: winners chosen from a recorded seed and a recorded list of entrants, reproducibly.

Each entrant's ticket is SHA-256(seed ":" entrant); the lowest tickets win. The result
depends only on the seed and the set of entrants (not their order, not the Python version,
not a random generator's state), so anyone holding both re-runs it and gets the same
winners.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable


def new_seed() -> str:
    return secrets.token_hex(32)


def ticket(seed: str, entrant: str) -> str:
    return hashlib.sha256(f"{seed}:{entrant}".encode()).hexdigest()


def draw(seed: str, entrants: Iterable[str], winners: int) -> list[str]:
    """The ``winners`` entrants with the lowest tickets, in winning order."""
    if winners < 0:
        raise ValueError("the number of winners cannot be negative")
    unique = sorted(set(entrants))
    ranked = sorted(unique, key=lambda entrant: (ticket(seed, entrant), entrant))
    return ranked[:winners]
