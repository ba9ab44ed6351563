"""What a provider's answer means for a payment: SATIM's order status codes and Khlass's."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class Outcome(enum.StrEnum):
    PAID = "paid"
    DECLINED = "declined"
    WAITING = "waiting"  # registered, the customer has not started paying
    IN_PROGRESS = "in_progress"  # the customer is paying (3-D Secure, code sent): never expire
    REVERSED = "reversed"
    REFUNDED = "refunded"
    UNKNOWN = "unknown"  # the provider could not say (error); ask again later


# SATIM (the BPC RBS gateway) OrderStatus.
SATIM_STATUS: dict[int, Outcome] = {
    0: Outcome.WAITING,
    1: Outcome.IN_PROGRESS,  # pre-authorised; SATIM merchants deposit at once
    2: Outcome.PAID,
    3: Outcome.REVERSED,
    4: Outcome.REFUNDED,
    5: Outcome.IN_PROGRESS,  # 3-D Secure started
    6: Outcome.DECLINED,
}


@dataclass(frozen=True)
class Confirmation:
    outcome: Outcome
    amount_centimes: int | None = None
    masked_pan: str | None = None
    reason: str | None = None


def satim_confirmation(answer: dict[str, Any]) -> Confirmation:
    """Reads acknowledgeTransaction.do / getOrderStatus.do."""
    error = str(answer.get("ErrorCode", answer.get("errorCode", "")))
    status = answer.get("OrderStatus", answer.get("orderStatus"))
    if error not in ("0", "") and status is None:
        return Confirmation(Outcome.UNKNOWN, reason=str(answer.get("ErrorMessage", error)))
    try:
        outcome = SATIM_STATUS[int(status)]  # type: ignore[arg-type]
    except (KeyError, TypeError, ValueError):
        return Confirmation(Outcome.UNKNOWN, reason=f"unknown OrderStatus {status!r}")
    params = answer.get("params") or {}
    reason = None
    if outcome is Outcome.DECLINED:
        reason = str(
            params.get("respCode_desc")
            or answer.get("actionCodeDescription")
            or params.get("respCode")
            or answer.get("actionCode")
        )
    amount = answer.get("Amount", answer.get("amount"))
    return Confirmation(
        outcome,
        amount_centimes=int(amount) if amount is not None else None,
        masked_pan=answer.get("Pan") or answer.get("pan"),
        reason=reason,
    )


KHLASS_STATUS: dict[str, Outcome] = {
    "pending": Outcome.WAITING,
    "awaiting_code": Outcome.IN_PROGRESS,
    "paid": Outcome.PAID,
    "failed": Outcome.DECLINED,
    "expired": Outcome.DECLINED,
    "refunded": Outcome.REFUNDED,
    "partially_refunded": Outcome.PAID,
}


def khlass_confirmation(answer: dict[str, Any]) -> Confirmation:
    outcome = KHLASS_STATUS.get(str(answer.get("status")), Outcome.UNKNOWN)
    amount = answer.get("amount")
    return Confirmation(
        outcome,
        amount_centimes=int(amount) if amount is not None else None,
        masked_pan=answer.get("account_masked"),
        reason=answer.get("reason"),
    )
