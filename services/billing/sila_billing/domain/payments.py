"""The e-payment state machine, and what may be refunded.

created -> pending (sent to the provider's page) -> succeeded | failed | expired;
succeeded -> refunded (wholly; a partial refund leaves it succeeded with a refunded amount).
A state only moves forward: a late or repeated confirmation never moves it back.
"""

from __future__ import annotations

import enum
from typing import Final


class PaymentState(enum.StrEnum):
    CREATED = "created"
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    EXPIRED = "expired"
    REFUNDED = "refunded"


class Method(enum.StrEnum):
    EDAHABIA = "edahabia"
    CIB = "cib"
    KHLASS = "khlass"


class Purpose(enum.StrEnum):
    BILL = "bill"
    RECHARGE = "recharge"


OPEN: Final = frozenset({PaymentState.CREATED, PaymentState.PENDING})

TRANSITIONS: Final[dict[PaymentState, frozenset[PaymentState]]] = {
    PaymentState.CREATED: frozenset(
        {PaymentState.PENDING, PaymentState.FAILED, PaymentState.SUCCEEDED}
    ),
    PaymentState.PENDING: frozenset(
        {PaymentState.SUCCEEDED, PaymentState.FAILED, PaymentState.EXPIRED}
    ),
    PaymentState.SUCCEEDED: frozenset({PaymentState.REFUNDED}),
    PaymentState.FAILED: frozenset(),
    PaymentState.EXPIRED: frozenset(),
    PaymentState.REFUNDED: frozenset(),
}


class PaymentTransitionError(ValueError):
    def __init__(self, current: PaymentState, target: PaymentState) -> None:
        super().__init__(f"a payment cannot go from {current} to {target}")
        self.current = current
        self.target = target


def check_transition(current: PaymentState, target: PaymentState) -> None:
    if target not in TRANSITIONS[current]:
        raise PaymentTransitionError(current, target)


class RefundError(ValueError):
    pass


def refundable(state: PaymentState, amount: int, refunded: int) -> int:
    """What may still be refunded of a payment."""
    if state is not PaymentState.SUCCEEDED:
        return 0
    return max(0, amount - refunded)


def after_refund(state: PaymentState, amount: int, refunded: int, refund: int) -> PaymentState:
    """The state after refunding ``refund`` more; never above what was paid."""
    if refund <= 0:
        raise RefundError("a refund is a positive amount")
    left = refundable(state, amount, refunded)
    if left == 0:
        raise RefundError("nothing of this payment may be refunded")
    if refund > left:
        raise RefundError(f"at most {left} centimes may still be refunded")
    return PaymentState.REFUNDED if refunded + refund == amount else PaymentState.SUCCEEDED


def mask_pan(pan: str | None) -> str | None:
    """Keeps the first six and last four digits, as SATIM returns it; anything else hidden."""
    if not pan:
        return None
    if "*" in pan:  # already masked by the provider: keep its shape, digits only
        return "".join(c for c in pan if c.isdigit() or c == "*")[:24]
    digits = [c for c in pan if c.isdigit()]
    if len(digits) < 10:
        return "*" * len(digits)
    return "".join(digits[:6]) + "*" * (len(digits) - 10) + "".join(digits[-4:])
