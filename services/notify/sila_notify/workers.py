"""Notify's background work: the dispatcher, the webhook deliverer and the campaign planner.

They run as the service's background job, next to the relay (roles ``relay`` and ``serve``);
any number of processes may run them: they share the work through row locks.
``SILA_NOTIFY_DISPATCHER=0`` switches them off in a process; ``SILA_NOTIFY_LANES`` chooses
the lanes a process sends (the campaign planner runs where ``marketing`` is one of them).
"""

from __future__ import annotations

import asyncio
from contextlib import suppress
from dataclasses import dataclass, field

from sila_notify.channels.base import Channel
from sila_notify.channels.email_smtp import SmtpEmailChannel
from sila_notify.channels.in_app import InAppChannel
from sila_notify.channels.push_fcm import FcmPushChannel
from sila_notify.channels.sms_kannel import KannelSmsChannel
from sila_notify.flows.campaigns import CampaignPlanner
from sila_notify.flows.delivery.dispatcher import Dispatcher
from sila_notify.flows.delivery.wakeup import wakeups_of
from sila_notify.flows.webhooks.deliverer import WebhookDeliverer
from sila_notify.runtime import NotifyRuntime
from sila_notify.settings import NotifySettings


@dataclass
class Workers:
    dispatcher: Dispatcher
    webhooks: WebhookDeliverer
    campaigns: CampaignPlanner
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def start(self) -> None:
        self.tasks = [
            asyncio.create_task(self.dispatcher.run(self.stop), name="notify.dispatcher"),
            asyncio.create_task(self.webhooks.run(self.stop), name="notify.webhooks"),
        ]
        # The planner goes with the marketing lane: a process kept for OTP and service
        # messages (SILA_NOTIFY_LANES=otp,service) never spends its loop on a campaign.
        if "marketing" in self.dispatcher.settings.served_lanes():
            self.tasks.append(
                asyncio.create_task(self.campaigns.run(self.stop), name="notify.campaigns")
            )

    async def shutdown(self) -> None:
        self.stop.set()
        for task in self.tasks:
            with suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, timeout=15)
        await self.dispatcher.close()
        await self.webhooks.close()


def make_channels(runtime: NotifyRuntime, settings: NotifySettings) -> dict[str, Channel]:
    return {
        "sms": KannelSmsChannel(settings),
        "email": SmtpEmailChannel(settings),
        "push": FcmPushChannel(settings),
        "in_app": InAppChannel(runtime.session_factory),
    }


def build_workers(runtime: NotifyRuntime) -> Workers:
    settings = runtime.settings
    return Workers(
        dispatcher=Dispatcher(
            session_factory=runtime.session_factory,
            outbox=runtime.outbox,
            settings=settings,
            channels=make_channels(runtime, settings),
            wakeups=wakeups_of(runtime),
        ),
        webhooks=WebhookDeliverer(
            session_factory=runtime.session_factory,
            outbox=runtime.outbox,
            settings=settings,
            profile=runtime.platform.profile,
        ),
        campaigns=CampaignPlanner(session_factory=runtime.session_factory, settings=settings),
    )


async def run_notify_workers(runtime: NotifyRuntime, stop: asyncio.Event) -> None:
    """The background job: the loops run until ``stop``, then drain before the engine closes."""
    if not runtime.settings.dispatcher:
        return
    workers = build_workers(runtime)
    workers.start()
    await stop.wait()
    await workers.shutdown()
