"""From an event to the messages it causes: route, recipient, consent, channel, time, text.

Planning only queues; the dispatcher sends. A message is identified by (event id, channel),
so planning the same event twice (a redelivery) queues nothing new.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, NotRequired, TypedDict, Unpack

import structlog
from sqlalchemy import event as sa_event
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from sila_common.db import as_utc
from sila_common.events import CloudEvent
from sila_common.otp_transport import CodeUnreadable
from sila_notify.directory import consents_of, device_tokens, recipient_row
from sila_notify.domain.quiet_hours import FrequencyCap, earliest_send_time
from sila_notify.domain.routing import (
    CHANNELS,
    DEFAULT_CHANNEL_ORDER,
    LANE_RANK,
    choose_channels,
    consent_allows,
    matches,
    split_primary,
)
from sila_notify.domain.sealing import (
    SEALED_CODE_EVENTS,
    Sealer,
    masked,
    secrets_of,
    with_opened_code,
)
from sila_notify.domain.templates import TemplateRenderError
from sila_notify.flows.delivery.wakeup import wake_after_commit
from sila_notify.settings import NotifySettings
from sila_notify.tables import event_routes, messages, recipients
from sila_notify.template_store import (
    FALLBACK_LANGUAGE,
    PLANNING_CACHE,
    NoTemplate,
    Rendered,
    latest_template_query,
    render_for,
    render_row,
    session_cache,
    template_name,
)

log = structlog.get_logger(__name__)

PUSH_DESTINATION = "devices"
INBOX_DESTINATION = "inbox"


class RecipientUnknown(LookupError):
    """The event names a customer identity has not told us about yet: the event is parked."""


@dataclass(frozen=True)
class Planned:
    message_ids: list[str]
    skipped_reason: str | None = None


async def plan_event(session: AsyncSession, settings: NotifySettings, event: CloudEvent) -> Planned:
    """The messages an incoming event causes, queued in the caller's transaction."""
    route = await _route(session, event.type)
    if route is None:
        return Planned([], "no route")
    if not matches(route.condition or {}, event.data):
        return Planned([], "condition not met")
    variant = str(event.data.get(route.variant_field) or "") if route.variant_field else ""
    data: Mapping[str, Any] = event.data
    unreadable: str | None = None
    lane, urgent, channels = str(route.lane), bool(route.urgent), list(route.channels)
    if event.type in SEALED_CODE_EVENTS:
        # A code goes in the otp lane by SMS alone whatever an editor made of its route: any
        # other lane would keep it in clear in the row (body, render_data), the inbox included.
        lane, urgent, channels = "otp", True, ["sms"]
        # The code arrives sealed by identity for notify alone; it is opened here, in memory,
        # and the row seals the text again under notify's own key (row_values).
        try:
            data = with_opened_code(event.data, settings.transport_keys())
        except CodeUnreadable as error:
            unreadable = f"code: cannot open the sealed code ({error})"
            data = {k: v for k, v in event.data.items() if k not in ("code", "sealed_code")}
            log.warning(
                "notify.otp_code_unreadable",
                event_id=event.id,
                event_type=event.type,
                key_id=str(event.data.get("key_id") or "")[:32],
                reason=str(error),
            )
    return await plan_messages(
        session,
        settings,
        event_id=event.id,
        event_type=event.type,
        variant=variant,
        customer_id=event.customerid,
        data=data,
        lane=lane,
        urgent=urgent,
        route_channels=channels,
        now=datetime.now(UTC),
        unreadable=unreadable,
    )


async def _route(session: AsyncSession, event_type: str) -> Any:
    cache = session_cache(session)
    key = ("route", event_type)
    if cache is not None and key in cache:
        return cache[key]
    route = (
        await session.execute(
            select(event_routes).where(
                event_routes.c.event_type == event_type, event_routes.c.enabled.is_(True)
            )
        )
    ).one_or_none()
    if cache is not None:
        cache[key] = route
    return route


async def plan_messages(
    session: AsyncSession,
    settings: NotifySettings,
    *,
    event_id: str,
    event_type: str,
    variant: str,
    customer_id: str,
    data: Mapping[str, Any],
    lane: str,
    urgent: bool,
    route_channels: Sequence[str],
    now: datetime,
    not_before: datetime | None = None,
    campaign_id: str | None = None,
    unreadable: str | None = None,
) -> Planned:
    """The messages an event makes for a customer: by which channels (reachable, allowed,
    in their order), when (quiet hours, caps), each row once per event and channel.

    ``unreadable``: why the event's text cannot be made (a sealed code that does not open);
    its messages are recorded failed with that reason, never sent.
    """
    if lane == "otp" and session.info.get(DEFER_OTP_INSERTS):
        # A consumer batch: its codes are planned together just before it commits.
        _defer(
            session,
            {
                "event_id": event_id,
                "event_type": event_type,
                "variant": variant,
                "customer_id": customer_id,
                "data": data,
                "urgent": urgent,
                "route_channels": list(route_channels),
                "now": now,
                "not_before": not_before,
                "campaign_id": campaign_id,
                "sealer": settings.sealer(),
                "unreadable": unreadable,
            },
        )
        return Planned([])
    try:
        reach = await _reach(session, customer_id, lane, data, route_channels)
        plans = await _plans(
            session,
            settings,
            reach,
            customer_id=customer_id,
            lane=lane,
            urgent=urgent,
            route_channels=route_channels,
            now=now,
            not_before=not_before,
        )
    except _Skipped as skipped:
        return Planned([], skipped.reason)
    rows = [
        await message_row(
            session,
            event_id=event_id,
            event_type=event_type,
            variant=variant,
            customer_id=customer_id,
            channel=channel,
            destination=reach.destination(channel),
            language=reach.language,
            lane=lane,
            urgent=urgent,
            data=data,
            failover=failover,
            scheduled_for=when,
            now=now,
            campaign_id=campaign_id,
            sealer=settings.sealer(),
            unreadable=unreadable,
        )
        for channel, failover, when in plans
    ]
    result = await session.execute(
        pg_insert(messages)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["event_id", "channel"])
        .returning(messages.c.id)
    )
    planned = [str(i) for i in result.scalars()]
    if planned:
        wake_after_commit(session, lane)
    return Planned(planned)


class _Skipped(Exception):
    """Nothing is planned for this customer, for this reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class _Reach:
    """How a customer can be reached, and what they agreed to."""

    phone: str | None
    email: str | None
    language: str
    order: Sequence[str]
    consents: dict[tuple[str, str], bool]
    reachable: set[str]

    def destination(self, channel: str) -> str:
        return {
            "sms": self.phone or "",
            "email": self.email or "",
            "push": PUSH_DESTINATION,
            "in_app": INBOX_DESTINATION,
        }[channel]


async def _reach(
    session: AsyncSession,
    customer_id: str,
    lane: str,
    data: Mapping[str, Any],
    route_channels: Sequence[str],
) -> _Reach:
    recipient = await recipient_row(session, customer_id)
    if lane == "otp":
        # The code goes to the number it was asked for, even before the directory knows it.
        phone = data.get("phone") or (recipient.phone if recipient is not None else None)
        language = str(data.get("language") or (recipient.language if recipient else "fr"))
        if recipient is not None and recipient.erased:
            raise _Skipped("customer erased")
        return _Reach(
            phone=phone,
            email=None,
            language=language,
            order=("sms",),
            consents={},
            reachable={"sms"} if phone else set(),
        )
    if recipient is None:
        raise RecipientUnknown(f"customer {customer_id} is not in the directory yet")
    if recipient.erased:
        raise _Skipped("customer erased")
    reachable = {"in_app"}
    if recipient.phone:
        reachable.add("sms")
    if recipient.email:
        reachable.add("email")
    if "push" in route_channels and await device_tokens(session, customer_id):
        reachable.add("push")
    return _Reach(
        phone=recipient.phone,
        email=recipient.email,
        language=str(recipient.language),
        order=list(recipient.channel_order or DEFAULT_CHANNEL_ORDER),
        consents=await consents_of(session, customer_id),
        reachable=reachable,
    )


async def _plans(
    session: AsyncSession,
    settings: NotifySettings,
    reach: _Reach,
    *,
    customer_id: str,
    lane: str,
    urgent: bool,
    route_channels: Sequence[str],
    now: datetime,
    not_before: datetime | None,
) -> list[tuple[str, list[str], datetime]]:
    """(channel, failover channels, when) of each message: the primary one, the inbox."""
    allowed = {c for c in CHANNELS if consent_allows(lane, c, reach.consents)}
    channels = choose_channels(route_channels, reach.order, reach.reachable, allowed)
    primary, inbox = split_primary(channels)
    if not primary and not inbox:
        raise _Skipped("no channel allowed and reachable")
    plans: list[tuple[str, list[str], datetime]] = []
    if primary:
        when = await send_time(
            session,
            settings,
            customer_id=customer_id,
            lane=lane,
            urgent=urgent,
            now=now,
            not_before=not_before,
        )
        plans.append((primary[0], primary[1:], when))
    if inbox:
        # The inbox interrupts nobody: neither quiet hours nor caps hold it.
        plans.append(("in_app", [], max(now, not_before or now)))
    return plans


class MessageFields(TypedDict):
    """What a message row is made of besides its rendered text (``row_values``)."""

    event_id: str
    event_type: str
    variant: str
    customer_id: str
    channel: str
    destination: str
    language: str
    lane: str
    urgent: bool
    data: Mapping[str, Any]
    failover: list[str]
    scheduled_for: datetime
    now: datetime
    sealer: Sealer
    campaign_id: NotRequired[str | None]


async def message_row(
    session: AsyncSession, *, unreadable: str | None = None, **fields: Unpack[MessageFields]
) -> dict[str, Any]:
    """A queued message with its text; a template that cannot render makes it failed at once
    (as does ``unreadable``: a text that cannot be made)."""
    rendered: Rendered | str
    if unreadable is not None:
        rendered = unreadable
    else:
        try:
            rendered = await render_for(
                session,
                event_type=fields["event_type"],
                variant=fields["variant"],
                language=fields["language"],
                channel=fields["channel"],
                data=fields["data"],
            )
        except (NoTemplate, TemplateRenderError) as error:
            rendered = f"template: {error}"
    return row_values(rendered, **fields)


def row_values(
    rendered: Rendered | str,
    *,
    event_id: str,
    event_type: str,
    variant: str,
    customer_id: str,
    channel: str,
    destination: str,
    language: str,
    lane: str,
    urgent: bool,
    data: Mapping[str, Any],
    failover: list[str],
    scheduled_for: datetime,
    now: datetime,
    sealer: Sealer,
    campaign_id: str | None = None,
) -> dict[str, Any]:
    """The message row for a rendered text, or failed with the reason it could not render.

    A one-time code never sits in clear in the row: ``sealer`` seals its text for the
    dispatcher alone (domain/sealing.py)."""
    state, reason, subject, body, version = "queued", None, None, "", None
    sealed: str | None = None
    name, used_language = template_name(event_type, variant), language
    if isinstance(rendered, Rendered):
        subject, body, version = rendered.subject, rendered.body, rendered.version
        name, used_language = rendered.template, rendered.language
    else:
        state, reason = "failed", rendered[:1000]
    if lane == "otp":
        # The code never sits in clear in the row: the body masks it, the real text is sealed
        # for the dispatcher alone (domain/sealing.py).
        secrets_ = secrets_of(data)
        if state == "queued" and secrets_:
            sealed = sealer.seal(body)
        body = masked(body, secrets_) or ""
        subject = masked(subject, secrets_)
        reason = masked(reason, secrets_)
    return {
        "id": str(uuid.uuid4()),
        "event_id": event_id,
        "event_type": event_type,
        "channel": channel,
        "customer_id": customer_id,
        "lane": lane,
        "lane_rank": LANE_RANK[lane],
        "urgent": urgent,
        "language": used_language,
        "template": name,
        "variant": variant,
        # One-time codes are never kept for a re-render: they have no other channel.
        "render_data": {} if lane == "otp" else dict(data),
        "template_version": version,
        "destination": destination,
        "subject": subject,
        "body": body,
        "sealed_body": sealed,
        "state": state,
        "scheduled_for": scheduled_for,
        "attempts": 0,
        "attempt_id": None,
        "sending_since": None,
        "provider_message_id": None,
        "provider_reason": reason,
        "callback_token": secrets.token_urlsafe(24) if channel == "sms" else None,
        "failover": failover,
        "campaign_id": campaign_id,
        "created_at": now,
        "sent_at": None,
        "delivered_at": None,
        "failed_at": now if state == "failed" else None,
    }


async def send_time(
    session: AsyncSession,
    settings: NotifySettings,
    *,
    customer_id: str,
    lane: str,
    urgent: bool,
    now: datetime,
    not_before: datetime | None = None,
) -> datetime:
    """Now for urgent messages; otherwise after quiet hours and within the lane's cap."""
    start = max(now, not_before or now)
    if urgent or lane == "otp":
        return start
    period = timedelta(hours=settings.cap_period_hours)
    cap_size = (
        settings.marketing_cap_messages if lane == "marketing" else settings.service_cap_messages
    )
    moment = func.coalesce(messages.c.sent_at, messages.c.scheduled_for)
    rows = await session.execute(
        select(moment).where(
            messages.c.customer_id == customer_id,
            messages.c.lane == lane,
            messages.c.urgent.is_(False),
            messages.c.channel != "in_app",
            messages.c.state.in_(("queued", "sending", "sent", "delivered")),
            moment > start - period,
        )
    )
    sent_times = [as_utc(t) for t in rows.scalars() if t is not None]
    return earliest_send_time(
        start,
        urgent=False,
        window=settings.quiet_window(),
        cap=FrequencyCap(cap_size, period),
        sent_times=sent_times,
    )


# -- one-time codes planned a consumer batch at a time ---------------------------------------------
# A burst of codes is where a query per event costs most. A code needs nothing from the other
# messages (no caps, no quiet hours, no consent), so a consumer batch keeps its codes and plans
# them together right before it commits, in the same transaction: one query for their
# recipients, one insert. Anything that must see them first (an erasure) plans them earlier.
DEFER_OTP_INSERTS = "notify.defer_otp_inserts"
_DEFERRED = "notify.deferred_otps"


def defer_otp_inserts(session: AsyncSession) -> None:
    """One-time codes planned in this session are planned at commit (see ``flush_deferred``)."""
    if not session.info.get(DEFER_OTP_INSERTS):
        session.info[DEFER_OTP_INSERTS] = True
        sa_event.listen(session.sync_session, "before_commit", _plan_deferred_otps)


def _defer(session: AsyncSession, otp: dict[str, Any]) -> None:
    session.info.setdefault(_DEFERRED, []).append(otp)
    wake_after_commit(session, "otp")


async def flush_deferred(session: AsyncSession) -> None:
    """Plan the codes kept so far now (before anything that must see them, e.g. an erasure)."""
    if session.info.get(_DEFERRED):
        await session.run_sync(_plan_deferred_otps)


def _plan_deferred_otps(sync_session: Any) -> None:
    """The codes kept by the batch, planned as ``plan_messages`` plans one (synchronous: it
    runs in the session's greenlet, at commit)."""
    pending: list[dict[str, Any]] = sync_session.info.pop(_DEFERRED, [])
    if not pending:
        return
    ids = sorted({str(p["customer_id"]) for p in pending})
    found = {
        str(r.customer_id): r
        for r in sync_session.execute(
            select(recipients).where(recipients.c.customer_id.in_(ids))
        ).all()
    }
    rows: list[dict[str, Any]] = []
    for otp in pending:
        data: Mapping[str, Any] = otp["data"]
        recipient = found.get(str(otp["customer_id"]))
        # The code goes to the number it was asked for, even before the directory knows it.
        phone = data.get("phone") or (recipient.phone if recipient is not None else None)
        language = str(data.get("language") or (recipient.language if recipient else "fr"))
        if recipient is not None and recipient.erased:
            continue
        reachable = {"sms"} if phone else set()
        allowed = {c for c in CHANNELS if consent_allows("otp", c, {})}
        primary, inbox = split_primary(
            choose_channels(otp["route_channels"], ("sms",), reachable, allowed)
        )
        plans: list[tuple[str, list[str]]] = []
        if primary:
            plans.append((primary[0], list(primary[1:])))
        if inbox:
            plans.append(("in_app", []))
        now: datetime = otp["now"]
        when = max(now, otp["not_before"] or now)
        for channel, failover in plans:
            rows.append(
                row_values(
                    otp["unreadable"] or _render_sync(sync_session, otp, language, channel),
                    event_id=otp["event_id"],
                    event_type=otp["event_type"],
                    variant=otp["variant"],
                    customer_id=otp["customer_id"],
                    channel=channel,
                    destination=(phone or "") if channel == "sms" else INBOX_DESTINATION,
                    language=language,
                    lane="otp",
                    urgent=bool(otp["urgent"]),
                    data=data,
                    failover=failover,
                    scheduled_for=when,
                    now=now,
                    sealer=otp["sealer"],
                    campaign_id=otp["campaign_id"],
                )
            )
    if rows:
        sync_session.execute(
            pg_insert(messages).on_conflict_do_nothing(index_elements=["event_id", "channel"]),
            rows,
        )


def _render_sync(
    sync_session: Any, otp: Mapping[str, Any], language: str, channel: str
) -> Rendered | str:
    """``render_for`` in the synchronous planner, sharing the batch's template cache."""
    event_type, variant = str(otp["event_type"]), str(otp["variant"])
    cache: dict[Any, Any] = sync_session.info.setdefault(PLANNING_CACHE, {})
    key = ("template", event_type, variant, language, channel)
    if key not in cache:
        row = None
        for lang in dict.fromkeys((language, FALLBACK_LANGUAGE)):
            row = sync_session.execute(
                latest_template_query(
                    event_type=event_type, variant=variant, language=lang, channel=channel
                )
            ).one_or_none()
            if row is not None:
                break
        cache[key] = row
    template = cache[key]
    if template is None:
        return f"template: no template for {template_name(event_type, variant)} on {channel}"
    try:
        return render_row(template, otp["data"], str(template.language), channel)
    except TemplateRenderError as error:
        return f"template: {error}"
