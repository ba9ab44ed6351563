"""SMS delivery reports, recorded by group commit: reports that arrive together share a transaction.

Each report is still answered only after its transaction commits, and one that names no
message, or the wrong token, is refused (the callback answers 404) whatever the others do.
Within a batch, reports about the same message apply in arrival order, as they would one by one.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any

from sqlalchemy import String, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from sila_common.outbox import Outbox
from sila_notify.flows.delivery import records
from sila_notify.flows.delivery.batching import GroupCommit
from sila_notify.runtime import NotifyRuntime
from sila_notify.settings import NotifySettings
from sila_notify.tables import messages

# Kannel report types (the dlr-mask bits).
DLR_DELIVERED, DLR_FAILED, DLR_SUBMITTED, DLR_REJECTED = 1, 2, 8, 16
OPEN_STATES = ("sending", "sent")


# The reported messages, locked in id order (as the dispatcher's records lock them); one
# array parameter, so one prepared statement whatever the batch size.
LOCK_ROWS = (
    select(messages)
    .where(messages.c.id == func.any(bindparam("ids", type_=ARRAY(String))))
    .order_by(messages.c.id)
    .with_for_update()
)


@dataclass(frozen=True)
class DeliveryReport:
    message_id: str
    token: str
    type: int
    answer: str = ""


class DeliveryReports:
    def __init__(
        self,
        *,
        session_factory: async_sessionmaker[AsyncSession],
        outbox: Outbox,
        settings: NotifySettings,
    ) -> None:
        self.session_factory = session_factory
        self.outbox = outbox
        self.settings = settings
        self._group: GroupCommit[DeliveryReport, bool] = GroupCommit(self._flush)

    async def record(self, report: DeliveryReport) -> bool:
        """Apply one report; False when its message or token is unknown (nothing changes)."""
        return await self._group.submit(report)

    async def _flush(self, reports: list[DeliveryReport]) -> list[bool]:
        async with self.session_factory() as session, session.begin():
            ids = sorted({r.message_id for r in reports})
            rows = {
                str(row.id): row for row in (await session.execute(LOCK_ROWS, {"ids": ids})).all()
            }
            states = {message_id: str(row.state) for message_id, row in rows.items()}
            accepted: list[bool] = []
            delivered: list[Any] = []
            failed: list[tuple[Any, str]] = []
            for report in reports:
                row = rows.get(report.message_id)
                expected = (row.callback_token or "") if row is not None else ""
                # Compared as bytes: compare_digest refuses str with other than ASCII.
                if (
                    row is None
                    or not expected
                    or not hmac.compare_digest(expected.encode(), report.token.encode())
                ):
                    accepted.append(False)
                    continue
                accepted.append(True)
                if states[report.message_id] not in OPEN_STATES:
                    continue
                if report.type == DLR_DELIVERED:
                    delivered.append(row)
                    states[report.message_id] = "delivered"
                elif report.type in (DLR_FAILED, DLR_REJECTED):
                    reason = f"sms centre report {report.type}: {report.answer}"[:500]
                    failed.append((row, reason))
                    states[report.message_id] = "failed"
            await records.mark_delivered_many(session, self.outbox, delivered)
            for row, reason in failed:
                await records.fail(
                    session, self.outbox, self.settings, row, reason=reason, from_states=OPEN_STATES
                )
        return accepted


def delivery_reports(runtime: NotifyRuntime) -> DeliveryReports:
    """The process's recorder (one per runtime, so that concurrent callbacks share it)."""
    return runtime.collaborators.get_or_make(
        DeliveryReports,
        lambda: DeliveryReports(
            session_factory=runtime.session_factory,
            outbox=runtime.outbox,
            settings=runtime.settings,
        ),
    )
