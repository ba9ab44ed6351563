"""Reading a customer's timeline: the customer, the page and the audit row of the read in
one statement (the projection that writes the timeline is ``timeline.projection``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sila_common.auth import Principal
from sila_identity.flows import audit
from sila_identity.queries import audit_arguments, fetch_on_pool
from sila_identity.runtime import IdentityRuntime
from sila_identity.timeline.projection import INTERNAL_NOTE


@dataclass(frozen=True)
class PageFilters:
    """What a page asks for: after the cursor's ``(occurred_at, event_id)``, at or after
    ``since``, before ``until``, of these types, services and channels (None: any)."""

    limit: int
    after: tuple[datetime, str] | None = None
    since: datetime | None = None
    until: datetime | None = None
    types: Sequence[str] | None = None
    services: Sequence[str] | None = None
    channels: Sequence[str] | None = None


@dataclass(frozen=True)
class PageRead:
    """The customer as the statement found them (None: no such customer), whether the
    caller's scope holds them, and the page's entries (one more than the limit when
    another page follows)."""

    customer: Mapping[str, Any] | None
    in_scope: bool
    entries: list[Mapping[str, Any]]


# A page of the timeline with its audit row, as one statement (one round trip, one implicit
# transaction) on the connection's asyncpg driver: the customer ($1); whether the caller
# may read them, by the wilayas it reads them in ($2; "*" = any: api.timeline decides); if
# so, the audit row of the read (flows.audit's columns, $3-$8) with the asynchronous
# commit that audit.record_reads_in makes (set_config(..., true) is SET LOCAL), and the page.
# Through SQLAlchemy Core the same read was BEGIN, the customer, the page, COMMIT, with the
# page's select built and its cache key computed per request (docs/benchmarks.md).
# The filters are parameters, an absent one NULL, so that one prepared statement (asyncpg's
# cache) serves every page: the cursor ($9, $10), since ($11) and until ($12) bound the
# index range (ix_timeline_customer_order, newest first; with no cursor the row comparison
# keeps every entry), the types, services and channels ($13-$15) filter it, and the
# internal notes are hidden unless $16 (a member of the staff reads: projection's
# ``customer_facing``, in SQL). $17 is the limit plus one.
# Its rows: none when there is no such customer; else one row per entry with the
# customer's columns, or one row of the customer alone (entry columns NULL) when the page
# is empty or the customer is not in scope. (The one value written into the text is
# projection's constant, not a caller's.)
PAGE_AUDITED = f"""
WITH customer AS (
    SELECT id, wilaya_code, language FROM customers WHERE id = $1
), in_scope AS (
    SELECT id FROM customer WHERE '*' = ANY($2::text[]) OR wilaya_code = ANY($2::text[])
), read_recorded AS (
    INSERT INTO audit_log (at, actor_kind, actor_id, action, customer_id, target, detail,
                           correlation_id)
    SELECT $3, $4, $5, $6, id, NULL, $7::jsonb, $8 FROM in_scope
    WHERE set_config('synchronous_commit', 'off', true) IS NOT NULL
)
SELECT customer.id, customer.wilaya_code, customer.language,
       in_scope.id IS NOT NULL AS in_scope,
       page.event_id, page.occurred_at, page.event_type, page.source_service, page.channel,
       page.resource, page.data
FROM customer
LEFT JOIN in_scope ON true
LEFT JOIN LATERAL (
    SELECT event_id, occurred_at, event_type, source_service, channel, resource, data
    FROM timeline_entries
    WHERE customer_id = in_scope.id
      AND (occurred_at, event_id)
          < (coalesce($9::timestamptz, 'infinity'), coalesce($10::text, ''))
      AND occurred_at >= coalesce($11::timestamptz, '-infinity')
      AND occurred_at < coalesce($12::timestamptz, 'infinity')
      AND ($13::text[] IS NULL OR event_type = ANY($13::text[]))
      AND ($14::text[] IS NULL OR source_service = ANY($14::text[]))
      AND ($15::text[] IS NULL OR channel = ANY($15::text[]))
      AND ($16::boolean OR event_type <> '{INTERNAL_NOTE}'
           OR CAST(data ->> 'public' AS BOOLEAN) IS TRUE)
    ORDER BY occurred_at DESC, event_id DESC
    LIMIT $17::integer
) page ON true
ORDER BY page.occurred_at DESC, page.event_id DESC
"""  # noqa: S608


async def read_page(
    runtime: IdentityRuntime,
    principal: Principal,
    customer_id: str,
    filters: PageFilters,
    *,
    readable_in: Collection[str],
) -> PageRead:
    """The customer and, if the caller reads them in one of the wilayas ``readable_in``
    ("*": any), a page of their timeline, the read recorded in the audit log by the same
    statement. Staff (agents) see internal notes; everybody else does not."""
    audit_row = audit.read_row(principal, "timeline.read")
    after_at, after_id = filters.after or (None, None)
    records = await fetch_on_pool(
        runtime.engine,
        PAGE_AUDITED,
        customer_id,
        list(readable_in),
        *audit_arguments(audit_row),
        after_at,
        after_id,
        filters.since,
        filters.until,
        _listed(filters.types),
        _listed(filters.services),
        _listed(filters.channels),
        principal.kind == "agent",
        filters.limit + 1,
    )
    if not records:
        return PageRead(customer=None, in_scope=False, entries=[])
    first = records[0]
    entries = [] if first["event_id"] is None else records
    return PageRead(customer=first, in_scope=first["in_scope"], entries=entries)


def _listed(values: Sequence[str] | None) -> list[str] | None:
    return list(values) if values else None
