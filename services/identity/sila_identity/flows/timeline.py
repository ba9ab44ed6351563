"""Reading a customer's timeline: the customer, the page and the audit row of the read in
one transaction (the projection that writes the timeline is ``timeline.projection``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sila_common.auth import Principal
from sila_identity.directory import load_row
from sila_identity.flows import audit
from sila_identity.runtime import IdentityRuntime


async def read_page(
    runtime: IdentityRuntime,
    principal: Principal,
    customer_id: str,
    query: Any,
    *,
    authorise: Callable[[Any], None],
) -> tuple[Any, list[Any]]:
    """The customer's row and the rows of ``query``, once ``authorise`` accepted the
    customer; the read is audited by the page's own statement."""
    # Core on a connection, without the ORM session: nothing here needs its unit of work,
    # and its bookkeeping around each statement showed in the read's profile.
    async with runtime.engine.begin() as connection:
        customer = await load_row(connection, customer_id)
        authorise(customer)
        audited = audit.with_read_recorded(query, principal, "timeline.read", customer_id)
        rows = list((await connection.execute(audited)).all())
    return customer, rows
