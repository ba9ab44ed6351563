"""Security case 1 (docs/security.md): a one-time code reaches the customer's phone and
nowhere else. It is never in clear in notify's message rows (queued, between retries, sent),
never returned by the API to any role, never in the log; the SMS itself carries it and it
logs the customer in."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest
from sqlalchemy import select

from sila_common.logging import configure_logging
from sila_notify.tables import messages
from tests.integration.security_support import new_agent, new_customer
from tests.support import LiveService, bearer, eventually

from .conftest import Simulator

OTP_GRANT = "urn:sila:params:oauth:grant-type:otp"


def retrying_mobile() -> str:
    # The SMS centre simulator fails the first two attempts to numbers ending 9999, so the
    # message goes back to ``queued`` between retries: the rows are seen in every state.
    return f"+2136{random.randrange(1000, 10000)}9999"


async def otp_rows(notify: LiveService, customer_id: str) -> list[Any]:
    async with notify.runtime.session_factory() as session:
        return list(
            (
                await session.execute(
                    select(messages).where(
                        messages.c.customer_id == customer_id, messages.c.lane == "otp"
                    )
                )
            ).all()
        )


async def test_a_queued_code_is_never_readable_in_notify_and_only_the_sms_carries_it(
    notify: LiveService,
    identity: LiveService,
    smsc: Simulator,
    admin_token: str,
    capfd: pytest.CaptureFixture[str],
) -> None:
    configure_logging(service="security-test", level="DEBUG")
    try:
        agent = await new_agent(identity, admin_token, ["agent"], ["15"])
        marketing = await new_agent(identity, admin_token, ["marketing"], ["15"])
        phone = retrying_mobile()
        customer = await new_customer(identity, agent, phone=phone)
        asked = await identity.client.post("/v1/auth/otp", json={"phone": phone})
        assert asked.status_code == 202

        # Every state the rows pass through, until the SMS centre has the message.
        seen: list[Any] = []

        async def sms() -> list[dict[str, Any]]:
            seen.extend(await otp_rows(notify, customer["id"]))
            return [m for m in await smsc.messages() if m["to"] == phone]

        text = (await eventually(sms, timeout=20, what="the code's SMS"))[0]["text"]
        code = re.search(r"\b(\d{6})\b", text)
        assert code is not None, text
        code_text = code.group(1)

        async def recorded() -> list[Any]:
            rows = await otp_rows(notify, customer["id"])
            seen.extend(rows)
            return [r for r in rows if r.state in ("sent", "delivered")]

        final = (await eventually(recorded, what="the send recorded"))[0]
        # Refused twice by the SMS centre, then sent: the row was queued again in between
        # (with its sealed text), and dropped the sealed text once sent.
        assert final.attempts >= 3
        assert final.sealed_body is None
        columns = ("body", "subject", "sealed_body", "provider_reason")
        for row in seen:
            stored = " ".join(str(getattr(row, c) or "") for c in columns)
            assert code_text not in stored, (row.state, stored)
        assert any(row.sealed_body for row in seen if row.state in ("queued", "sending"))

        # No role reads it through the API; marketing does not read customers' messages at all.
        listed = await notify.client.get(
            "/v1/notifications", params={"customer_id": customer["id"]}, headers=agent.auth
        )
        assert listed.status_code == 200
        bodies = [m["body"] for m in listed.json()["items"] if m["lane"] == "otp"]
        assert bodies and all(code_text not in body for body in bodies)
        one = await notify.client.get(
            f"/v1/notifications/{listed.json()['items'][0]['id']}", headers=agent.auth
        )
        assert code_text not in one.text
        as_marketing = await notify.client.get(
            "/v1/notifications", params={"customer_id": customer["id"]}, headers=marketing.auth
        )
        assert as_marketing.status_code == 403
        inbox = await notify.client.get(
            "/v1/inbox", params={"customer_id": customer["id"]}, headers=agent.auth
        )
        assert code_text not in inbox.text

        # The SMS carried the real code: it logs the customer in.
        login = await identity.client.post(
            "/v1/oauth/token", data={"grant_type": OTP_GRANT, "phone": phone, "code": code_text}
        )
        assert login.status_code == 200, login.text
        assert login.json()["access_token"]
        me = await notify.client.get(
            "/v1/notifications",
            params={"customer_id": customer["id"]},
            headers=bearer(login.json()["access_token"]),
        )
        assert me.status_code == 200 and code_text not in me.text
    finally:
        configure_logging(service="security-test", level="WARNING")
    logged = capfd.readouterr()
    # The log was captured (the send is in it), and the code is not.
    assert f'"message_id": "{final.id}"' in logged.err
    assert code_text not in logged.err + logged.out
