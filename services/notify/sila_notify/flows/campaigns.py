"""Campaign sends: a marketing message to a segment, queued in chunks, paced at a set rate.

The planner walks the directory in customer-id order, a chunk at a time, keeping only those
who granted marketing consent on the campaign's channel and can be reached on it, and not
already at their marketing cap. Each message gets a slot (``scheduled_for``) 1/rate after the
previous one, moved past quiet hours; the dispatcher's marketing lane sends them when due,
apart from the OTP and service lanes.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sila_common.aio import wait_or_timeout
from sila_common.db import as_utc
from sila_common.problems import Conflict, NotFound, Unprocessable
from sila_notify.domain.quiet_hours import next_allowed_send
from sila_notify.domain.routing import LANE_RANK
from sila_notify.domain.templates import TemplateRenderError
from sila_notify.flows.planning import INBOX_DESTINATION, PUSH_DESTINATION
from sila_notify.runtime import NotifyRuntime
from sila_notify.settings import NotifySettings
from sila_notify.tables import campaign_sends, consents, messages, push_tokens, recipients
from sila_notify.template_store import Rendered, latest_template, render_row

log = structlog.get_logger(__name__)


def audience_filter(segment: dict[str, Any], channel: str) -> Any:
    """Who a campaign may reach: in the segment, marketing consent, reachable on ``channel``."""
    specific = consents.alias("c_specific")
    general = consents.alias("c_any")

    def consent(alias: Any, on_channel: str) -> Any:
        return (
            select(alias.c.granted)
            .where(
                alias.c.customer_id == recipients.c.customer_id,
                alias.c.purpose == "marketing",
                alias.c.channel == on_channel,
            )
            .scalar_subquery()
        )

    granted_specific = consent(specific, channel)
    granted_any = consent(general, "any")
    clauses = [
        recipients.c.erased.is_(False),
        recipients.c.status != "erased",
        or_(
            granted_specific.is_(True),
            and_(granted_specific.is_(None), granted_any.is_(True)),
        ),
    ]
    wilayas = segment.get("wilaya_codes")
    if wilayas:
        clauses.append(recipients.c.wilaya_code.in_(list(wilayas)))
    languages = segment.get("languages")
    if languages:
        clauses.append(recipients.c.language.in_(list(languages)))
    if channel == "sms":
        clauses.append(recipients.c.phone.is_not(None))
    elif channel == "email":
        clauses.append(recipients.c.email.is_not(None))
    elif channel == "push":
        clauses.append(exists().where(push_tokens.c.customer_id == recipients.c.customer_id))
    return and_(*clauses)


# The bounds of a campaign's pace. A rate is checked when the campaign is created, and
# clamped again here for rows written before that check existed: 1e-300 per second would
# make the step between two messages overflow every cycle.
MIN_RATE_PER_SECOND = 1 / 60
MAX_RATE_PER_SECOND = 10_000.0


def send_step(rate_per_second: float) -> timedelta:
    """The time between two messages of a campaign at this rate, within the bounds."""
    if not math.isfinite(rate_per_second):
        rate_per_second = MIN_RATE_PER_SECOND
    rate = min(max(rate_per_second, MIN_RATE_PER_SECOND), MAX_RATE_PER_SECOND)
    return timedelta(seconds=1 / rate)


class CampaignPlanner:
    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        settings: NotifySettings,
    ) -> None:
        self.session_factory = session_factory
        self.settings = settings

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                planned = await self.run_once()
            except Exception as error:
                log.exception("campaigns.cycle_failed", error=type(error).__name__)
                await wait_or_timeout(stop, 1.0)
                continue
            if planned == 0:
                await wait_or_timeout(stop, self.settings.dispatcher_poll_seconds * 5)

    async def run_once(self) -> int:
        """Plan one chunk of one campaign still planning; returns how many were queued."""
        query = (
            select(campaign_sends)
            .where(campaign_sends.c.state == "planning")
            .order_by(campaign_sends.c.created_at)
            .limit(1)
        )
        query = query.with_for_update(skip_locked=True)
        campaign_id: str | None = None
        try:
            async with self.session_factory() as session, session.begin():
                campaign = (await session.execute(query)).one_or_none()
                if campaign is None:
                    return 0
                campaign_id = str(campaign.id)
                return await self.plan_chunk(session, campaign)
        except Exception as error:
            if campaign_id is None:
                raise
            # One campaign that cannot be planned must not hold up the ones behind it: it
            # leaves the queue as failed, and the next cycle takes the next campaign.
            log.exception(
                "campaigns.planning_failed", campaign_id=campaign_id, error=type(error).__name__
            )
            async with self.session_factory() as session, session.begin():
                await session.execute(
                    update(campaign_sends)
                    .where(campaign_sends.c.id == campaign_id, campaign_sends.c.state == "planning")
                    .values(state="failed")
                )
            return 1

    async def plan_chunk(self, session: AsyncSession, campaign: Any) -> int:
        now = datetime.now(UTC)
        filters = [audience_filter(dict(campaign.segment), campaign.channel)]
        if campaign.cursor:
            filters.append(recipients.c.customer_id > campaign.cursor)
        chunk = (
            await session.execute(
                select(
                    recipients.c.customer_id,
                    recipients.c.language,
                    recipients.c.phone,
                    recipients.c.email,
                )
                .where(*filters)
                .order_by(recipients.c.customer_id)
                .limit(self.settings.campaign_chunk_size)
            )
        ).all()
        capped = await self._at_cap(session, [r.customer_id for r in chunk], now)
        texts: dict[str, Rendered] = {}
        window = self.settings.quiet_window()
        slot = max(as_utc(campaign.next_slot), now)
        step = send_step(float(campaign.rate_per_second))
        rows = []
        for recipient in chunk:
            if recipient.customer_id in capped:
                continue
            language = str(recipient.language)
            if language not in texts:
                template = await latest_template(
                    session,
                    event_type=campaign.event_type,
                    variant="",
                    language=language,
                    channel=campaign.channel,
                )
                if template is None:
                    continue
                texts[language] = render_row(
                    template, dict(campaign.variables), str(template.language), campaign.channel
                )
            text = texts[language]
            slot = next_allowed_send(slot, window)
            rows.append(
                {
                    "id": str(uuid.uuid4()),
                    "event_id": f"campaign:{campaign.id}:{recipient.customer_id}",
                    "event_type": campaign.event_type,
                    "channel": campaign.channel,
                    "customer_id": recipient.customer_id,
                    "lane": "marketing",
                    "lane_rank": LANE_RANK["marketing"],
                    "urgent": False,
                    "language": text.language,
                    "template": text.template,
                    "variant": "",
                    "render_data": {},
                    "template_version": text.version,
                    "destination": _destination(campaign.channel, recipient),
                    "subject": text.subject,
                    "body": text.body,
                    "state": "queued",
                    "scheduled_for": slot,
                    "attempts": 0,
                    "attempt_id": None,
                    "sending_since": None,
                    "provider_message_id": None,
                    "provider_reason": None,
                    "callback_token": uuid.uuid4().hex if campaign.channel == "sms" else None,
                    "failover": [],
                    "campaign_id": campaign.id,
                    "created_at": now,
                    "sent_at": None,
                    "delivered_at": None,
                    "failed_at": None,
                }
            )
            slot += step
        queued = 0
        if rows:
            # One cached statement with a list of parameters: SQLAlchemy batches it ("insert
            # many values", within PostgreSQL's parameter limit). Compiling a VALUES clause of
            # hundreds of rows instead takes about a second of CPU per chunk, during which
            # this process's OTP sender waits too.
            result = await session.execute(
                pg_insert(messages)
                .on_conflict_do_nothing(index_elements=["event_id", "channel"])
                .returning(messages.c.id),
                rows,
            )
            queued = len(result.all())
        done = len(chunk) < self.settings.campaign_chunk_size
        await session.execute(
            update(campaign_sends)
            .where(campaign_sends.c.id == campaign.id)
            .values(
                cursor=chunk[-1].customer_id if chunk else campaign.cursor,
                targeted=campaign_sends.c.targeted + queued,
                skipped=campaign_sends.c.skipped + (len(chunk) - queued),
                next_slot=slot,
                state="planned" if done else "planning",
                planned_at=now if done else None,
            )
        )
        return max(queued, 1) if chunk else 0

    async def _at_cap(
        self, session: AsyncSession, customer_ids: list[str], now: datetime
    ) -> set[str]:
        if not customer_ids:
            return set()
        moment = func.coalesce(messages.c.sent_at, messages.c.scheduled_for)
        rows = await session.execute(
            select(messages.c.customer_id)
            .where(
                messages.c.customer_id.in_(customer_ids),
                messages.c.lane == "marketing",
                messages.c.state.in_(("queued", "sending", "sent", "delivered")),
                moment > now - timedelta(hours=self.settings.cap_period_hours),
            )
            .group_by(messages.c.customer_id)
            .having(func.count() >= self.settings.marketing_cap_messages)
        )
        return {str(c) for c in rows.scalars()}


def _destination(channel: str, recipient: Any) -> str:
    if channel == "sms":
        return str(recipient.phone)
    if channel == "email":
        return str(recipient.email)
    return PUSH_DESTINATION if channel == "push" else INBOX_DESTINATION


async def start_campaign(
    runtime: NotifyRuntime,
    *,
    name: str,
    template: str,
    channel: str,
    segment: dict[str, Any],
    variables: dict[str, Any],
    rate_per_second: float,
    created_by: str,
) -> str:
    """A campaign send the planner picks up, once its template renders with ``variables``."""
    now = datetime.now(UTC)
    campaign_id = str(uuid.uuid4())
    async with runtime.session_factory() as session, session.begin():
        found = await latest_template(
            session, event_type=template, variant="", language="fr", channel=channel
        )
        if found is None:
            raise Unprocessable(
                f"No template {template} on {channel}.",
                errors=[{"field": "body.template", "message": "unknown", "type": "template"}],
            )
        try:
            render_row(found, variables, "fr", channel)
        except TemplateRenderError as error:
            raise Unprocessable(
                "The variables do not fit the template.",
                errors=[
                    {"field": f"body.variables.{p.name}", "message": p.detail, "type": p.code}
                    for p in error.problems
                ],
            ) from error
        await session.execute(
            campaign_sends.insert().values(
                id=campaign_id,
                name=name,
                event_type=template,
                channel=channel,
                segment=segment,
                variables=variables,
                state="planning",
                rate_per_second=rate_per_second,
                cursor=None,
                targeted=0,
                skipped=0,
                next_slot=now,
                created_by=created_by,
                created_at=now,
                planned_at=None,
            )
        )
    return campaign_id


async def cancel_campaign(runtime: NotifyRuntime, campaign_id: str) -> None:
    """Stop what is not sent yet: the queued messages fail as cancelled."""
    now = datetime.now(UTC)
    async with runtime.session_factory() as session, session.begin():
        state = await session.scalar(
            select(campaign_sends.c.state).where(campaign_sends.c.id == campaign_id)
        )
        if state is None:
            raise NotFound(f"No campaign send {campaign_id}.")
        if state == "cancelled":
            raise Conflict("The campaign is already cancelled.")
        await session.execute(
            update(campaign_sends)
            .where(campaign_sends.c.id == campaign_id)
            .values(state="cancelled")
        )
        await session.execute(
            update(messages)
            .where(messages.c.campaign_id == campaign_id, messages.c.state == "queued")
            .values(state="failed", provider_reason="campaign cancelled", failed_at=now)
        )
