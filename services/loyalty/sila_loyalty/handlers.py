"""What loyalty consumes: identity's customers (accounts), and every event a campaign may
follow (tickets', identity's, billing's), which the rule engine evaluates.

Billing's events are taken by their type names (``billing.payment.succeeded``,
``billing.subscription.recharged``...), reading ``amount_centimes`` and ``offer_code`` when
they carry them.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.consumer import Handler
from sila_common.events import CloudEvent, topic_for
from sila_common.service import ConsumerSpec
from sila_loyalty.domain.campaigns import TRIGGERS
from sila_loyalty.flows import accounts, engine, referrals
from sila_loyalty.runtime import LoyaltyContext
from sila_loyalty.settings import LoyaltySettings


async def customer_registered(
    session: AsyncSession, event: CloudEvent, context: LoyaltyContext
) -> None:
    first = await accounts.remember_customer(
        session, context, customer_id=event.customerid, data=event.data, at=event.time
    )
    if first:
        await referrals.link_registered(session, event.customerid, event.data.get("phone"))
    await engine.observe(session, context, event)
    await engine.release_waiting(session, context, event.customerid)


async def customer_updated(
    session: AsyncSession, event: CloudEvent, context: LoyaltyContext
) -> None:
    await accounts.remember_customer(
        session, context, customer_id=event.customerid, data=event.data, at=event.time
    )


async def customer_erased(
    session: AsyncSession, event: CloudEvent, context: LoyaltyContext
) -> None:
    await accounts.erase_customer(session, event.customerid)


async def contract_signed(
    session: AsyncSession, event: CloudEvent, context: LoyaltyContext
) -> None:
    offer = event.data.get("offer_code")
    if offer:
        await accounts.remember_offer(session, event.customerid, str(offer))
    await engine.observe(session, context, event)


async def triggering_event(
    session: AsyncSession, event: CloudEvent, context: LoyaltyContext
) -> None:
    await engine.observe(session, context, event)


DISPATCH: dict[str, Handler[LoyaltySettings]] = {
    **dict.fromkeys(
        (t for t in TRIGGERS if not t.startswith("loyalty.")),
        triggering_event,
    ),
    "identity.customer.registered": customer_registered,
    "identity.customer.updated": customer_updated,
    "identity.customer.erased": customer_erased,
    "identity.contract.signed": contract_signed,
}


async def handle(session: AsyncSession, event: CloudEvent, context: LoyaltyContext) -> None:
    """One event, alone in its transaction (the consumer's per-record path)."""
    await DISPATCH[event.type](session, event, context)


async def accounts_touched(session: AsyncSession, events: list[CloudEvent]) -> set[str]:
    """Every account a batch will lock: its customers', and their referrers' (a first
    payment rewards the referrer; a registration links a referral made by phone)."""
    customers = {event.customerid for event in events if event.customerid}
    phones = {
        str(event.data["phone"])[:20]
        for event in events
        if event.type == "identity.customer.registered" and event.data.get("phone")
    }
    if not customers:
        return customers
    return customers | await referrals.referrers_of(session, customers, phones)


async def handle_many(
    session: AsyncSession, events: list[CloudEvent], context: LoyaltyContext
) -> None:
    """A fetch's events in one transaction: every account they touch is locked first, in
    customer id order, then each event is handled in its order. Two engines (one reading
    identity's partitions, the other billing's) thus never hold accounts crosswise, and
    campaign budgets are reserved outside this transaction (``engine.reserve_budgets``):
    nothing here waits in an order another engine could reverse.

    Each run of consecutive events that only go through the rules (payments, tickets'
    events...) is decided at once (``engine.observe_many``: a few statements for the run,
    not some twenty per event); the others (identity's) one by one, between the runs."""
    await accounts.lock_accounts(session, await accounts_touched(session, events))
    start = 0
    while start < len(events):
        end = start
        while end < len(events) and DISPATCH[events[end].type] is triggering_event:
            end += 1
        if end > start:
            await engine.observe_many(session, context, events[start:end])
            start = end
        else:
            await handle(session, events[start], context)
            start += 1


handle.many = handle_many  # type: ignore[attr-defined]

# Every type goes to the one handler, so the consumer hands a whole fetch to ``many``.
HANDLERS: dict[str, Handler[LoyaltySettings]] = dict.fromkeys(DISPATCH, handle)

ENGINE = ConsumerSpec[LoyaltySettings](
    name="loyalty.engine",
    topics=[topic_for("identity"), topic_for("tickets"), topic_for("billing")],
    handlers=HANDLERS,
)
